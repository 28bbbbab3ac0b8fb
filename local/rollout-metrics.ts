import type { VariantStats } from '../core/rollout/live-gate';
import type { VariantMetricsQuery, VariantWindow } from '../core/rollout/metrics-query';
import { type Variant, VARIANTS } from '../core/registry/routing';
import { INFERENCE_METRICS } from '../lambdas/inference/metrics';
import type { MetricRecord } from '../lambdas/shared/metrics';

/**
 * What CloudWatch would hold of the inference function's per-variant metrics, for the local
 * rollout gate and the local canary alarm: the records the inference app emits (the platform feeds
 * every one of them here, as it feeds the dashboard's LocalMetrics), summed per model, variant and
 * second. One-second buckets where CloudWatch has one-minute ones, so a bake of a few seconds has
 * a window of its own. Latencies are kept per bucket (reservoir-sampled beyond a bound) so the
 * window's p99 is a percentile of the window, not of per-bucket percentiles.
 */

const BUCKET_MS = 1000;

interface Bucket {
  requests: number;
  serverErrors: number;
  clientErrors: number;
  latencySeen: number;
  readonly latencies: number[];
  readonly classes: Map<string, number>;
}

export interface LocalVariantMetricsOptions {
  /** How long records are kept (a step's window, and a 100% step's baseline, must fit). @default 6 hours */
  readonly retentionMs?: number;
  /** Latency samples kept per second, variant and model. @default 2000 */
  readonly maxLatencySamples?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

const VARIANT_METRICS = new Set<string>([
  INFERENCE_METRICS.variantRequests,
  INFERENCE_METRICS.variantServerErrors,
  INFERENCE_METRICS.variantClientErrors,
  INFERENCE_METRICS.variantLatency,
  INFERENCE_METRICS.variantPredictions,
]);

/** Nearest-rank percentile, as CloudWatch computes it over raw values. */
function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export class LocalVariantMetrics implements VariantMetricsQuery {
  /** model -> variant -> bucket start -> sums. */
  private readonly data = new Map<string, Map<Variant, Map<number, Bucket>>>();
  private readonly retentionMs: number;
  private readonly maxSamples: number;
  private readonly clock: () => number;

  constructor(options: LocalVariantMetricsOptions = {}) {
    this.retentionMs = options.retentionMs ?? 6 * 3600_000;
    this.maxSamples = options.maxLatencySamples ?? 2000;
    this.clock = options.clock ?? Date.now;
  }

  /** Any metric record of the inference app; only the per-variant ones are kept. */
  record(record: MetricRecord, at: number = this.clock()): void {
    if (!VARIANT_METRICS.has(record.name) || !Number.isFinite(record.value)) return;
    const { model, variant } = record.dimensions;
    if (!model || !(VARIANTS as readonly string[]).includes(variant)) return;
    const bucket = this.bucket(model, variant as Variant, at);
    switch (record.name) {
      case INFERENCE_METRICS.variantRequests:
        bucket.requests += record.value;
        break;
      case INFERENCE_METRICS.variantServerErrors:
        bucket.serverErrors += record.value;
        break;
      case INFERENCE_METRICS.variantClientErrors:
        bucket.clientErrors += record.value;
        break;
      case INFERENCE_METRICS.variantLatency: {
        bucket.latencySeen += 1;
        // Reservoir sampling (algorithm R): every latency of the second has the same chance to be kept.
        const slot =
          bucket.latencies.length < this.maxSamples
            ? bucket.latencies.length
            : Math.floor(Math.random() * bucket.latencySeen);
        if (slot < this.maxSamples) bucket.latencies[slot] = record.value;
        break;
      }
      case INFERENCE_METRICS.variantPredictions: {
        const label = record.dimensions.class ?? '';
        bucket.classes.set(label, (bucket.classes.get(label) ?? 0) + record.value);
        break;
      }
    }
  }

  async window(model: string, since: Date, until: Date): Promise<VariantWindow> {
    return {
      champion: this.stats(model, 'champion', since.getTime(), until.getTime()),
      canary: this.stats(model, 'canary', since.getTime(), until.getTime()),
    };
  }

  /** The variant's server errors from `since` to `until` (what the local canary alarm evaluates). */
  serverErrors(model: string, variant: Variant, since: number, until: number): number {
    return this.buckets(model, variant, since, until).reduce((sum, b) => sum + b.serverErrors, 0);
  }

  /** The models that have recorded any variant metric. */
  models(): string[] {
    return [...this.data.keys()];
  }

  private stats(model: string, variant: Variant, since: number, until: number): VariantStats {
    const buckets = this.buckets(model, variant, since, until);
    const classCounts: Record<string, number> = {};
    for (const b of buckets)
      for (const [label, count] of b.classes) classCounts[label] = (classCounts[label] ?? 0) + count;
    return {
      requests: buckets.reduce((sum, b) => sum + b.requests, 0),
      serverErrors: buckets.reduce((sum, b) => sum + b.serverErrors, 0),
      p99LatencyMs: percentile(
        buckets.flatMap((b) => b.latencies),
        99,
      ),
      classCounts,
    };
  }

  /** Buckets whose second overlaps [since floored to the second, until]. */
  private buckets(model: string, variant: Variant, since: number, until: number): Bucket[] {
    const from = Math.floor(since / BUCKET_MS) * BUCKET_MS;
    const found: Bucket[] = [];
    for (const [start, bucket] of this.data.get(model)?.get(variant) ?? [])
      if (start >= from && start <= until) found.push(bucket);
    return found;
  }

  private bucket(model: string, variant: Variant, at: number): Bucket {
    this.prune();
    let byVariant = this.data.get(model);
    if (!byVariant) this.data.set(model, (byVariant = new Map()));
    let byTime = byVariant.get(variant);
    if (!byTime) byVariant.set(variant, (byTime = new Map()));
    const start = Math.floor(at / BUCKET_MS) * BUCKET_MS;
    let bucket = byTime.get(start);
    if (!bucket)
      byTime.set(
        start,
        (bucket = { requests: 0, serverErrors: 0, clientErrors: 0, latencySeen: 0, latencies: [], classes: new Map() }),
      );
    return bucket;
  }

  private lastPrune = 0;

  private prune(): void {
    const now = this.clock();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const oldest = now - this.retentionMs;
    for (const byVariant of this.data.values()) {
      for (const byTime of byVariant.values())
        for (const start of byTime.keys()) if (start < oldest) byTime.delete(start);
    }
  }
}
