import type { App, Environment } from 'aws-cdk-lib';
import type { PlatformConfig } from './config';
import { InferenceStack } from './stacks/inference-stack';
import { MonitoringStack } from './stacks/monitoring-stack';
import { PipelineStack } from './stacks/pipeline-stack';
import { StorageStack } from './stacks/storage-stack';

/** The platform's stacks, wired from a validated config: what bin/app.ts deploys and the tests check. */
export interface PlatformStacks {
  readonly storage: StorageStack;
  readonly pipeline: PipelineStack;
  readonly inference: InferenceStack;
  readonly monitoring: MonitoringStack;
}

/** Stack ids are part of the deployed names: changing one replaces the stack. */
export function createPlatform(app: App, config: PlatformConfig, env?: Environment): PlatformStacks {
  const storage = new StorageStack(app, 'MlopsStorage', {
    env,
    terminationProtection: config.storage.terminationProtection,
    noncurrentVersionExpirationDays: config.storage.noncurrentVersionExpirationDays,
    captureRetentionDays: config.storage.captureRetentionDays,
  });
  const pipeline = new PipelineStack(app, 'MlopsPipeline', {
    env,
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs: config.specs,
    pipeline: config.pipeline,
    rollout: config.rollout,
    monitoringJob: config.monitoringJob,
    batch: config.batch,
  });
  const inference = new InferenceStack(app, 'MlopsInference', {
    env,
    modelBucket: storage.modelBucket,
    dataBucket: storage.dataBucket,
    api: config.inference,
  });
  // Reads the other stacks' resources; nothing reads it, so it can be replaced on its own.
  const monitoring = new MonitoringStack(app, 'MlopsMonitoring', {
    env,
    api: inference.inference,
    inferenceFunction: inference.inference.fn,
    pipelineFunction: pipeline.pipeline.fn,
    stateMachine: pipeline.pipeline.stateMachine,
    pipelineStarts: pipeline.pipeline,
    rollout: pipeline.rollout,
    ...(pipeline.monitoringJob ? { monitoringJob: pipeline.monitoringJob } : {}),
    ...(inference.inference.capture ? { capture: inference.inference.capture } : {}),
    models: config.monitoring.models,
    thresholds: config.monitoring.thresholds,
    alarmEmail: config.monitoring.alarmEmail,
  });
  return { storage, pipeline, inference, monitoring };
}
