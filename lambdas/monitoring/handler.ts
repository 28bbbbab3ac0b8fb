import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { MonitoringLog } from '../../core/monitoring/job';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { ModelRegistry } from '../../core/registry/registry';
import { type ModelValidator, RegistrationError } from '../../core/registry/types';
import { S3ObjectStore } from '../../core/s3-object-store';
import { powertoolsRecorder } from '../shared/metrics';
import { MonitoringConfigError, type MonitoringDeps } from './deps';
import { MONITORING_METRICS_SERVICE, type MonitoringMetricName } from './metrics';
import { createMonitoringRunner } from './runner';
import { StepFunctionsRetrainStarter } from './sfn-retrain-starter';

export { createMonitoringRunner, type MonitoringRunner } from './runner';

/**
 * The monitoring function: one run of the drift job per scheduled event `{ model }`. Wiring only:
 * configuration, the S3 and Step Functions clients, the registry and the specs are built once per
 * execution environment; a misconfigured function fails at init naming the variable.
 */

export interface MonitoringEnv {
  readonly DATA_BUCKET?: string;
  readonly MODEL_BUCKET?: string;
  readonly STATE_MACHINE_ARN?: string;
  readonly MODEL_SPECS_DIR?: string;
  readonly AWS_ENDPOINT_URL?: string;
  readonly POWERTOOLS_SERVICE_NAME?: string;
}

/** The specs bundled with the function (config/models next to the bundle), else the repository's own folder; as the pipeline function finds them. */
export function defaultModelSpecsDir(): string {
  const candidates = [join(__dirname, 'config', 'models'), join(__dirname, '..', '..', 'config', 'models')];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[candidates.length - 1];
}

/** The job reads manifests only: it never registers a version, so it needs no ONNX runtime. */
const noModelLoading: ModelValidator = {
  validate: () => Promise.reject(new RegistrationError('the monitoring function does not register models')),
};

function powertoolsLog(logger: Logger): MonitoringLog {
  return {
    info: (message, attributes) => logger.info(message, { ...attributes }),
    warn: (message, attributes) => logger.warn(message, { ...attributes }),
  };
}

/** SDK clients the caller already has (a test, the local platform); the rest are built from the env. */
export interface MonitoringClients {
  /** @default - a client for AWS_ENDPOINT_URL (or AWS), credentials and region from the environment */
  readonly s3?: S3Client;
  /** @default - likewise, for Step Functions */
  readonly sfn?: SFNClient;
}

export function buildMonitoringDeps(env: MonitoringEnv, clients: MonitoringClients = {}): MonitoringDeps {
  const missing = (['DATA_BUCKET', 'MODEL_BUCKET', 'STATE_MACHINE_ARN'] as const).filter((name) => !env[name]);
  if (missing.length > 0)
    throw new MonitoringConfigError(`monitoring function is misconfigured: ${missing.join(', ')} must be set`);
  const endpoint = env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {};
  const s3 = clients.s3 ?? new S3Client(env.AWS_ENDPOINT_URL ? { ...endpoint, forcePathStyle: true } : {});
  const specs = loadModelSpecs(env.MODEL_SPECS_DIR || defaultModelSpecsDir());
  return {
    dataStore: new S3ObjectStore(s3, env.DATA_BUCKET as string),
    models: new ModelRegistry(new S3ObjectStore(s3, env.MODEL_BUCKET as string), noModelLoading),
    specs: new Map(specs.map((spec) => [spec.name, spec])),
    retrain: new StepFunctionsRetrainStarter(clients.sfn ?? new SFNClient(endpoint), env.STATE_MACHINE_ARN as string),
    clock: () => new Date(),
    recorder: powertoolsRecorder<MonitoringMetricName>({ serviceName: MONITORING_METRICS_SERVICE }),
    log: powertoolsLog(new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME || MONITORING_METRICS_SERVICE })),
  };
}

const run = createMonitoringRunner(buildMonitoringDeps(process.env));

/**
 * Returns the report (what `npm run registry -- drift <model> --now` prints), with where it is
 * stored and what was read; a report is a few KB per feature, far below Lambda's 6 MB response limit.
 */
export async function handler(event: unknown): Promise<unknown> {
  const { reportKey, report, read } = await run(event);
  return { ...report, reportKey, read };
}
