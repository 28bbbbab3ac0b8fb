import type { ObjectStore } from '../../core/object-store';
import type { VariantMetricsQuery } from '../../core/rollout/metrics-query';
import type { RoutingStore } from '../../core/registry/routing-store';

/** The routing store's writes the rollout function makes (it never starts a canary). */
export type RolloutRouting = Pick<
  RoutingStore,
  'read' | 'setCanaryWeight' | 'promoteCanary' | 'abortCanary' | 'history'
>;

/** What every rollout step needs: the model bucket, the routing document, live metrics and time. */
export interface RolloutDeps {
  /** The model bucket (rollout requests and the records under rollout-runs/). */
  readonly store: ObjectStore;
  readonly routing: RolloutRouting;
  readonly metrics: VariantMetricsQuery;
  readonly clock: () => Date;
}

/** Who the routing history names for a change an execution makes. */
export const executionActor = (execution: string) => `rollout:${execution}`;

/** The function's environment lacks a setting the construct sets: a deployment fault, not worth retrying. */
export class RolloutConfigError extends Error {
  override readonly name = 'RolloutConfigError';
}
