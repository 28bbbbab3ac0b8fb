import { App } from 'aws-cdk-lib';
import { StorageStack } from '../lib/stacks/storage-stack';

// The only place that reads context and environment.
const app = new App();
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
new StorageStack(app, 'MlopsStorage', { env, terminationProtection: app.node.tryGetContext('terminationProtection') === true });
app.synth();
