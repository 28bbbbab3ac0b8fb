import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { loggedRunner } from '../shared/logged-runner';
import { rolloutLogKeys } from './log-keys';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { ModelRegistry } from '../../core/registry/registry';
import { RoutingStore } from '../../core/registry/routing-store';
import { DEFAULT_ALIAS, type ModelValidator, RegistrationError } from '../../core/registry/types';
import { S3ObjectStore } from '../../core/s3-object-store';
import { CloudWatchVariantMetrics } from './cloudwatch-metrics';
import { RolloutConfigError, type RolloutDeps } from './deps';
import { createRolloutRunner } from './runner';

export { createRolloutRunner, RolloutStepRequestError, type RolloutRunner } from './runner';

/**
 * The rollout function: the rollout state machine's steps and the canary rollback alarm's
 * abort. Wiring only: the S3 and CloudWatch clients, the registry and the routing store are built
 * once per execution environment; a misconfigured function fails at init naming the variable.
 */

export interface RolloutEnv {
  readonly MODEL_BUCKET?: string;
  readonly AWS_ENDPOINT_URL?: string;
  /** The inference function's metrics namespace and service dimension. @default ServerlessMlops / inference */
  readonly METRICS_NAMESPACE?: string;
  readonly INFERENCE_SERVICE_NAME?: string;
}

/**
 * This function never registers a version or starts a canary, the two writes that load a model:
 * it does not ship onnxruntime, and refuses if ever asked to validate.
 */
export const noModelLoading: ModelValidator = {
  validate: () =>
    Promise.reject(
      new RegistrationError(
        'the rollout function does not load models: register versions and start canaries with the registry CLI or the pipeline',
      ),
    ),
};

/** SDK clients the caller already has (a test, the local platform); the rest are built from the env. */
export interface RolloutClients {
  /** @default - a client for AWS_ENDPOINT_URL (or AWS), credentials and region from the environment */
  readonly s3?: S3Client;
  /** @default - a client for AWS, credentials and region from the environment */
  readonly cloudWatch?: CloudWatchClient;
}

export function buildRolloutDeps(env: RolloutEnv, clients: RolloutClients = {}): RolloutDeps {
  if (!env.MODEL_BUCKET) throw new RolloutConfigError('rollout function is misconfigured: MODEL_BUCKET must be set');
  const s3 =
    clients.s3 ?? new S3Client(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL, forcePathStyle: true } : {});
  const store = new S3ObjectStore(s3, env.MODEL_BUCKET);
  const registry = new ModelRegistry(store, noModelLoading);
  const classesOf = async (model: string) => {
    const champion = await registry.resolveAlias(model, DEFAULT_ALIAS);
    return typeof champion === 'object' ? (await registry.getManifest(model, champion.record.version)).classes : [];
  };
  return {
    store,
    routing: new RoutingStore(store, registry, noModelLoading),
    metrics: new CloudWatchVariantMetrics({
      client: clients.cloudWatch ?? new CloudWatchClient({}),
      classesOf,
      namespace: env.METRICS_NAMESPACE || undefined,
      service: env.INFERENCE_SERVICE_NAME || undefined,
    }),
    clock: () => new Date(),
  };
}

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'rollout' });
const run = loggedRunner(createRolloutRunner(buildRolloutDeps(process.env)), logger, rolloutLogKeys);

export async function handler(event: unknown, context?: Context): Promise<unknown> {
  return run(event, context);
}
