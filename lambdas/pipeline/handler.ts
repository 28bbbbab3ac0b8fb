import { RoutingStore } from '../../core/registry/routing-store';
import { REFERENCE_RESOURCES } from '../../core/pipeline/training-capacity';
import { managedResourcesFrom } from './managed-train';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import type { StepRequest } from '../../core/pipeline/contract';
import type { Context } from 'aws-lambda';
import type { StepDeps } from './deps';
import { createStepRunner } from './runner';
import { powertoolsRecorder } from '../shared/metrics';
import { PIPELINE_METRICS_SERVICE, type PipelineMetricName } from './metrics';
import { Logger } from '@aws-lambda-powertools/logger';
import { loggedStepRunner } from './step-log';
import { PipelineConfigError } from '../../core/pipeline/errors';

export { createStepRunner, StepRequestError, type StepRunner } from './runner';

/**
 * The retraining pipeline's Lambda: one function runs every step ({ step, input }, see
 * contract.ts). Wiring only: configuration, the S3 client, the registry and the specs are built
 * once per execution environment; a misconfigured function fails at init naming the variable.
 */

export interface PipelineEnv {
  readonly DATA_BUCKET?: string;
  readonly MODEL_BUCKET?: string;
  readonly MODEL_SPECS_DIR?: string;
  readonly AWS_ENDPOINT_URL?: string;
  readonly TMPDIR?: string;
  /** Set by Lambda: the function's memory size in MB. */
  readonly AWS_LAMBDA_FUNCTION_MEMORY_SIZE?: string;
  /** Set by the construct: the function's timeout in seconds (Lambda does not expose it). */
  readonly STEP_TIMEOUT_SECONDS?: string;
  /** Set by the construct when a managed training task is deployed: its memory (MiB) and timeout (s). */
  readonly MANAGED_TRAINING_MEMORY_MB?: string;
  readonly MANAGED_TRAINING_TIMEOUT_SECONDS?: string;
}

/**
 * The specs bundled with the function: config/models copied next to the bundle (esbuild puts the
 * code in one file at the asset root), else the repository's own folder (tsx, tests, local platform).
 */
export function defaultModelSpecsDir(): string {
  const candidates = [join(__dirname, 'config', 'models'), join(__dirname, '..', '..', 'config', 'models')];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[candidates.length - 1];
}

/** SDK clients the caller already has (a test, another process's platform); the rest are built from the env. */
export interface PipelineClients {
  /** @default - a client for AWS_ENDPOINT_URL (or AWS), credentials and region from the environment */
  readonly s3?: S3Client;
}

export function buildStepDeps(env: PipelineEnv, clients: PipelineClients = {}): StepDeps {
  const missing = (['DATA_BUCKET', 'MODEL_BUCKET'] as const).filter((name) => !env[name]);
  if (missing.length > 0)
    throw new PipelineConfigError(`pipeline function is misconfigured: ${missing.join(', ')} must be set`);
  const dataBucket = env.DATA_BUCKET as string;
  const s3 =
    clients.s3 ?? new S3Client(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL, forcePathStyle: true } : {});
  const modelStore = new S3ObjectStore(s3, env.MODEL_BUCKET as string);
  const validator = new OnnxModelValidator();
  const registry = new ModelRegistry(modelStore, validator);
  const specs = loadModelSpecs(env.MODEL_SPECS_DIR || defaultModelSpecsDir());
  const managed = managedResourcesFrom(env);
  return {
    dataStore: new S3ObjectStore(s3, dataBucket),
    modelStore,
    registry,
    routing: new RoutingStore(modelStore, registry, validator),
    specs: new Map(specs.map((spec) => [spec.name, spec])),
    clock: () => new Date(),
    tmpDir: env.TMPDIR || tmpdir(),
    resources: {
      memoryMb: Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || REFERENCE_RESOURCES.memoryMb,
      timeoutSeconds: Number(env.STEP_TIMEOUT_SECONDS) || REFERENCE_RESOURCES.timeoutSeconds,
    },
    ...(managed ? { managedResources: managed } : {}),
    dataBucket,
    recorder: powertoolsRecorder<PipelineMetricName>({ serviceName: PIPELINE_METRICS_SERVICE }),
  };
}

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || PIPELINE_METRICS_SERVICE });
const run = loggedStepRunner(createStepRunner(buildStepDeps(process.env)), logger);

export async function handler(request: StepRequest, context?: Context): Promise<unknown> {
  return run(request, context);
}
