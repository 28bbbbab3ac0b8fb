import type { App, Environment } from 'aws-cdk-lib';
import type { PlatformConfig } from './config';
import { InferenceStack } from './stacks/inference-stack';
import { PipelineStack } from './stacks/pipeline-stack';
import { StorageStack } from './stacks/storage-stack';

/** The platform's stacks, wired from a validated config: what bin/app.ts deploys and the tests check. */
export interface PlatformStacks {
  readonly storage: StorageStack;
  readonly pipeline: PipelineStack;
  readonly inference: InferenceStack;
}

/** Stack ids are part of the deployed names: changing one replaces the stack. */
export function createPlatform(app: App, config: PlatformConfig, env?: Environment): PlatformStacks {
  const storage = new StorageStack(app, 'MlopsStorage', {
    env,
    terminationProtection: config.storage.terminationProtection,
    noncurrentVersionExpirationDays: config.storage.noncurrentVersionExpirationDays,
  });
  const pipeline = new PipelineStack(app, 'MlopsPipeline', { env, dataBucket: storage.dataBucket, modelBucket: storage.modelBucket, specs: config.specs, pipeline: config.pipeline });
  const inference = new InferenceStack(app, 'MlopsInference', { env, modelBucket: storage.modelBucket, api: config.inference });
  return { storage, pipeline, inference };
}
