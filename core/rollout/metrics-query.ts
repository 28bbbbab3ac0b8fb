/**
 * The port the rollout gate reads live metrics through: what each variant of a model did in a
 * time window. In AWS it is CloudWatch GetMetricData over the inference function's per-variant
 * metrics (lambdas/rollout/cloudwatch-metrics.ts); on the local platform, the records the
 * inference app emits, kept in memory (local/rollout-metrics.ts).
 */
import type { Variant } from '../registry/routing';
import type { VariantStats } from './live-gate';

export type VariantWindow = Readonly<Record<Variant, VariantStats>>;

export interface VariantMetricsQuery {
  /** Both variants' requests, 5xx, p99 latency and predicted classes between `since` and `until`. */
  window(model: string, since: Date, until: Date): Promise<VariantWindow>;
}
