import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadModelSpecs } from '../core/pipeline/model-specs';
import { platformConfig } from '../lib/config';
import { createPlatform } from '../lib/platform';

// The only place that reads context and environment.
const app = new App();
// Adding a model is adding a spec: every config/models/*.json is validated here, at synth time,
// together with the `platform` context (lib/config.ts); every problem is reported at once.
const config = platformConfig(
  app.node.tryGetContext('platform'),
  loadModelSpecs(join(__dirname, '..', 'config', 'models')),
);
createPlatform(app, config, { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION });
// Every synth (and so every deploy) fails on a cdk-nag finding that is not acknowledged with a reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
app.synth();
