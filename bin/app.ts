import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { loadModelSpecs } from '../core/pipeline/model-specs';
import { InferenceStack } from '../lib/stacks/inference-stack';
import { PipelineStack } from '../lib/stacks/pipeline-stack';
import { StorageStack } from '../lib/stacks/storage-stack';

// The only place that reads context and environment.
const app = new App();
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
const defaultModel = app.node.tryGetContext('defaultModel') as string | undefined;
// Adding a model is adding a spec: every config/models/*.json is validated here, at synth time.
const specs = loadModelSpecs(join(__dirname, '..', 'config', 'models'));

const storage = new StorageStack(app, 'MlopsStorage', { env, terminationProtection: app.node.tryGetContext('terminationProtection') === true });
new PipelineStack(app, 'MlopsPipeline', { env, dataBucket: storage.dataBucket, modelBucket: storage.modelBucket, specs });
new InferenceStack(app, 'MlopsInference', { env, modelBucket: storage.modelBucket, api: { defaultModel } });
app.synth();
