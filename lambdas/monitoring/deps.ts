import type { MonitoringLog, RetrainStarter } from '../../core/monitoring/job';
import type { ObjectStore } from '../../core/object-store';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import type { ModelSource } from '../../core/registry/types';
import type { MonitoringRecorder } from './metrics';

/**
 * What the monitoring function needs: the data bucket, the registry (champion and baseline), the
 * model specs (monitoring settings), something that starts retrains, time, metrics and a log.
 * The Lambda builds them over S3 and Step Functions (handler.ts); the local platform over its S3
 * server and its own retraining runner; the tests over the local S3 server.
 */
export interface MonitoringDeps {
  readonly dataStore: ObjectStore;
  readonly models: Pick<ModelSource, 'resolveAlias' | 'getManifest'>;
  readonly specs: ReadonlyMap<string, ModelSpec>;
  readonly retrain: RetrainStarter;
  readonly clock: () => Date;
  /** @default - not reported */
  readonly recorder?: MonitoringRecorder;
  /** @default - silent */
  readonly log?: MonitoringLog;
}

/** The model's spec, or a clear error naming the known models. */
export function monitoredSpec(deps: Pick<MonitoringDeps, 'specs'>, model: string): ModelSpec {
  const spec = deps.specs.get(model);
  if (!spec) {
    const known = [...deps.specs.keys()].sort().join(', ') || 'none';
    throw new MonitoringRequestError(
      `no model spec for model "${model}" (known models: ${known}); add config/models/${model}.json`,
    );
  }
  return spec;
}

/** A request the function cannot act on (no model, an unknown model): retrying will not help. */
export class MonitoringRequestError extends Error {
  override readonly name = 'MonitoringRequestError';
}

/** The function's environment lacks a setting the construct sets: a deployment fault, not worth retrying. */
export class MonitoringConfigError extends Error {
  override readonly name = 'MonitoringConfigError';
}
