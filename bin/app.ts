import { App } from 'aws-cdk-lib';
import { InferenceStack } from '../lib/stacks/inference-stack';
import { StorageStack } from '../lib/stacks/storage-stack';

// The only place that reads context and environment.
const app = new App();
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
const defaultModel = app.node.tryGetContext('defaultModel') as string | undefined;

const storage = new StorageStack(app, 'MlopsStorage', { env, terminationProtection: app.node.tryGetContext('terminationProtection') === true });
new InferenceStack(app, 'MlopsInference', { env, modelBucket: storage.modelBucket, api: { defaultModel } });
app.synth();
