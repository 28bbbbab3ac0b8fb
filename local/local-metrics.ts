import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { MONITORING_METRICS } from '../core/monitoring/contract';
import { INFERENCE_METRICS } from '../lambdas/inference/metrics';
import { PIPELINE_METRICS } from '../lambdas/pipeline/metrics';
import type { MetricRecord, MetricUnitName } from '../lambdas/shared/metrics';

/**
 * What CloudWatch would hold for the local platform, in memory, for the local dashboard: the
 * functions' own metrics (the records their recorders write) and API Gateway's view of each
 * request (its Count, 4XXError, 5XXError and Latency metrics), summed or sampled per time bucket
 * over a sliding window. Old buckets are dropped as time passes, so memory stays bounded. With a
 * `file` the metrics outlive a restart: save() writes them (atomically) and the next start reads
 * them back, keeping what is still inside the window, and the totals.
 */

export type PanelId =
  | 'requests'
  | 'api-latency'
  | 'inference-latency'
  | 'predictions'
  | 'model-version'
  | 'variants'
  | 'shadow'
  | 'drift'
  | 'live-accuracy'
  | 'data-loop'
  | 'pipeline-runs'
  | 'scores'
  | 'health';

/** One line (or set of bars) on a chart: [bucket start in ms since the epoch, value] per bucket with data. */
export interface DashboardSeries {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface DashboardPanel {
  readonly id: PanelId;
  /** `bar` panels stack their series per bucket; `line` panels draw one line per series. */
  readonly kind: 'line' | 'bar';
  readonly unit: MetricUnitName;
  readonly series: readonly DashboardSeries[];
}

/** Since the LocalMetrics was created (not only the window). */
export interface DashboardTotals {
  readonly since: number;
  readonly requests: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly predictions: number;
  /** Finished retraining runs by outcome (promoted | rejected). */
  readonly runs: Readonly<Record<string, number>>;
  readonly runFailures: number;
  readonly quarantinedFiles: number;
}

export interface DashboardData {
  readonly generatedAt: number;
  readonly bucketMs: number;
  /** Start of the oldest bucket the window covers. */
  readonly from: number;
  readonly totals: DashboardTotals;
  readonly panels: readonly DashboardPanel[];
}

export interface LocalMetricsOptions {
  /** @default 10_000 (CloudWatch's high-resolution period is 1 s, its standard one 60 s) */
  readonly bucketMs?: number;
  /** @default 60 minutes */
  readonly retentionMs?: number;
  /** Samples kept per bucket and series for percentiles (reservoir sampled beyond it). @default 10_000 */
  readonly maxSamplesPerBucket?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /**
   * Where the metrics are kept across restarts (read when created, written by save()).
   * @default - in memory only: a restart starts afresh
   */
  readonly file?: string;
}

/** What save() writes; version 1. */
interface SavedMetrics {
  readonly version: 1;
  readonly bucketMs: number;
  readonly startedAt: number;
  readonly totals: LocalMetrics['totals'];
  readonly keys: readonly (readonly [
    string,
    { readonly metric: string; readonly dimensions: Record<string, string> },
  ])[];
  readonly buckets: readonly (readonly [number, readonly (readonly [string, Aggregate])[]])[];
}

export interface ObservedRequest {
  /** @default the clock's now */
  readonly at?: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
}

type Stat = 'sum' | 'avg' | 'max' | 'last' | 'p50' | 'p90' | 'p99';

interface SeriesSpec {
  readonly metric: string;
  /** The dimensions a series is drawn per; records are merged across all others (e.g. version). */
  readonly by: readonly string[];
  readonly stats: readonly Stat[];
  readonly label: (dimensions: Readonly<Record<string, string>>, stat: Stat) => string;
  /** Counts reported on every event: a bucket without records after the first one is a 0, not a gap. */
  readonly zeroFill?: boolean;
}

interface PanelSpec extends Omit<DashboardPanel, 'series'> {
  readonly series: readonly SeriesSpec[];
}

/** API Gateway's metric names (namespace AWS/ApiGateway), prefixed so no function metric can collide. */
const API = {
  count: 'AWS/ApiGateway:Count',
  clientErrors: 'AWS/ApiGateway:4XXError',
  serverErrors: 'AWS/ApiGateway:5XXError',
  latency: 'AWS/ApiGateway:Latency',
};

const fixed = (name: string) => () => name;
const sum = (metric: string, by: readonly string[], label: SeriesSpec['label'], zeroFill = false): SeriesSpec => ({
  metric,
  by,
  stats: ['sum'],
  label,
  zeroFill,
});
const last = (metric: string, what: string): SeriesSpec => ({
  metric,
  by: ['model', 'metric'],
  stats: ['last'],
  label: (d) => `${d.model} ${what}${d.metric ? ` (${d.metric})` : ''}`,
});

/** Every metric the dashboard draws, each in exactly one panel; others (e.g. RetrainingDuration) are not kept. */
const PANELS: readonly PanelSpec[] = [
  {
    id: 'requests',
    kind: 'line',
    unit: 'Count',
    series: [
      sum(API.count, [], fixed('requests'), true),
      sum(API.clientErrors, [], fixed('4xx'), true),
      sum(API.serverErrors, [], fixed('5xx'), true),
    ],
  },
  {
    id: 'api-latency',
    kind: 'line',
    unit: 'Milliseconds',
    series: [{ metric: API.latency, by: [], stats: ['p50', 'p90', 'p99'], label: (_d, stat) => stat }],
  },
  {
    id: 'inference-latency',
    kind: 'line',
    unit: 'Milliseconds',
    series: [
      {
        metric: INFERENCE_METRICS.inferenceLatency,
        by: ['model'],
        stats: ['p50', 'p99'],
        label: (d, stat) => `${d.model} ${stat}`,
      },
    ],
  },
  {
    id: 'predictions',
    kind: 'line',
    unit: 'Count',
    series: [sum(INFERENCE_METRICS.predictions, ['model', 'class'], (d) => `${d.model} ${d.class}`, true)],
  },
  {
    id: 'model-version',
    kind: 'line',
    unit: 'None',
    series: [{ metric: INFERENCE_METRICS.modelVersionInService, by: ['model'], stats: ['max'], label: (d) => d.model }],
  },
  // The rollout split: who answered (champion or canary, per routing.json) and what failed.
  {
    id: 'variants',
    kind: 'line',
    unit: 'Count',
    series: [
      sum(INFERENCE_METRICS.variantRequests, ['model', 'variant'], (d) => `${d.model} ${d.variant}`, true),
      sum(INFERENCE_METRICS.variantServerErrors, ['model', 'variant'], (d) => `${d.model} ${d.variant} 5xx`),
    ],
  },
  // Each shadowed request records its share of rows the shadow labelled as the answer did: the bucket's average.
  {
    id: 'shadow',
    kind: 'line',
    unit: 'None',
    series: [
      {
        metric: INFERENCE_METRICS.shadowAgreement,
        by: ['model'],
        stats: ['avg'],
        label: (d) => `${d.model} agreement`,
      },
    ],
  },
  // The production data loop (core/monitoring): each monitoring run's PSI per feature and of the
  // predicted labels, the champion's live accuracy, and what was captured and labelled.
  {
    id: 'drift',
    kind: 'line',
    unit: 'None',
    series: [
      {
        metric: MONITORING_METRICS.featureDrift,
        by: ['model', 'feature'],
        stats: ['last'],
        label: (d) => `${d.model} ${d.feature}`,
      },
      {
        metric: MONITORING_METRICS.predictionDrift,
        by: ['model'],
        stats: ['last'],
        label: (d) => `${d.model} predictions`,
      },
    ],
  },
  {
    id: 'live-accuracy',
    kind: 'line',
    unit: 'None',
    series: [{ metric: MONITORING_METRICS.liveAccuracy, by: ['model'], stats: ['last'], label: (d) => d.model }],
  },
  {
    id: 'data-loop',
    kind: 'bar',
    unit: 'Count',
    series: [
      sum(INFERENCE_METRICS.capturedInstances, ['model'], (d) => `${d.model} captured`),
      sum(INFERENCE_METRICS.feedbackLabels, ['model'], (d) => `${d.model} labels`),
      sum(INFERENCE_METRICS.captureErrors, ['model'], (d) => `${d.model} capture errors`),
    ],
  },
  {
    id: 'pipeline-runs',
    kind: 'bar',
    unit: 'Count',
    series: [
      sum(PIPELINE_METRICS.runs, ['model', 'outcome'], (d) => `${d.model} ${d.outcome}`),
      sum(PIPELINE_METRICS.runFailures, ['model'], (d) => `${d.model} failed`),
      sum(PIPELINE_METRICS.quarantinedFiles, ['model'], (d) => `${d.model} quarantined`),
    ],
  },
  {
    id: 'scores',
    kind: 'line',
    unit: 'None',
    series: [
      last(PIPELINE_METRICS.candidateScore, 'candidate'),
      last(PIPELINE_METRICS.championScore, 'champion'),
      last(PIPELINE_METRICS.promoted, 'promoted'),
    ],
  },
  {
    id: 'health',
    kind: 'bar',
    unit: 'Count',
    series: [
      sum(INFERENCE_METRICS.coldStarts, [], fixed('cold starts')),
      sum(INFERENCE_METRICS.modelLoadFailures, ['model'], (d) => `${d.model} load failures`),
      sum(INFERENCE_METRICS.bundledModelFallbacks, ['model'], (d) => `${d.model} bundled fallbacks`),
    ],
  },
];

export const PANEL_IDS: readonly PanelId[] = PANELS.map((panel) => panel.id);

const SPECS = new Map(PANELS.flatMap((panel) => panel.series.map((spec) => [spec.metric, spec] as const)));

interface Aggregate {
  sum: number;
  max: number;
  last: number;
  seen: number;
  /** Only for series with percentile stats. Sorted in place when read: order is irrelevant to the reservoir. */
  readonly samples?: number[];
}

const PERCENTILES: Partial<Record<Stat, number>> = { p50: 50, p90: 90, p99: 99 };

/** Nearest-rank percentile (the smallest sample with at least p% of the samples at or below it). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export class LocalMetrics {
  private readonly bucketMs: number;
  /** Per bucket start, its JSON as last saved; `changedBuckets` took values since. */
  private readonly bucketText = new Map<number, string>();
  private readonly changedBuckets = new Set<number>();
  private saving: Promise<void> | undefined;
  private readonly bucketCount: number;
  private readonly maxSamples: number;
  private readonly clock: () => number;
  private readonly startedAt: number;
  private readonly file?: string;
  /** Whether anything was recorded since the last save(). */
  private dirty = false;
  /** Bucket start -> series key -> aggregate. */
  private readonly buckets = new Map<number, Map<string, Aggregate>>();
  /** Series key -> what it draws. */
  private readonly keys = new Map<
    string,
    { readonly spec: SeriesSpec; readonly dimensions: Readonly<Record<string, string>> }
  >();
  private oldestKept = -Infinity;
  private totals = {
    requests: 0,
    clientErrors: 0,
    serverErrors: 0,
    predictions: 0,
    runs: {} as Record<string, number>,
    runFailures: 0,
    quarantinedFiles: 0,
  };

  constructor(options: LocalMetricsOptions = {}) {
    this.bucketMs = options.bucketMs ?? 10_000;
    const retentionMs = options.retentionMs ?? 60 * 60_000;
    this.maxSamples = options.maxSamplesPerBucket ?? 10_000;
    if (!Number.isInteger(this.bucketMs) || this.bucketMs <= 0)
      throw new Error(`LocalMetrics: bucketMs must be a positive integer, got ${options.bucketMs}`);
    if (!(retentionMs >= this.bucketMs))
      throw new Error(
        `LocalMetrics: retentionMs must be at least bucketMs (${this.bucketMs}), got ${options.retentionMs}`,
      );
    if (!Number.isInteger(this.maxSamples) || this.maxSamples <= 0)
      throw new Error(
        `LocalMetrics: maxSamplesPerBucket must be a positive integer, got ${options.maxSamplesPerBucket}`,
      );
    this.bucketCount = Math.ceil(retentionMs / this.bucketMs);
    this.clock = options.clock ?? Date.now;
    this.file = options.file;
    this.startedAt = (this.file ? this.load(this.file) : undefined) ?? this.clock();
  }

  /**
   * Writes the metrics to `file` if anything changed since the last save (a temporary file
   * renamed over it, so a crash mid-write leaves the previous one whole). Without a file, nothing.
   * Synchronous, for shutdown; the periodic save is saveInBackground.
   */
  save(): void {
    const parts = this.savedParts();
    if (parts === undefined || !this.file) return;
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, parts.join(''));
    renameSync(temporary, this.file);
  }

  /**
   * As save(), with the file written part by part asynchronously: what a timer calls while the
   * API serves. A save already under way is not started twice (the next call saves what changed since).
   */
  async saveInBackground(): Promise<void> {
    if (this.saving) return this.saving;
    const parts = this.savedParts();
    if (parts === undefined || !this.file) return;
    const file = this.file;
    const temporary = `${file}.tmp`;
    const write = async () => {
      const handle = await open(temporary, 'w');
      try {
        for (const part of parts) await handle.write(part);
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    };
    this.saving = write().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  /**
   * The JSON save() writes, in parts (one per bucket), or undefined when nothing changed. A
   * bucket's JSON is kept once built and rebuilt only when the bucket took a value since: past
   * buckets never change, so a save costs the current bucket, not the hour of history
   * (serialising all of it every 5 s blocked the event loop for 60-500 ms under load).
   */
  private savedParts(): string[] | undefined {
    if (!this.file || !this.dirty) return undefined;
    this.prune(this.clock());
    for (const start of this.bucketText.keys()) if (!this.buckets.has(start)) this.bucketText.delete(start);
    const keys = [...this.keys].map(([id, key]) => [id, { metric: key.spec.metric, dimensions: key.dimensions }]);
    // The same document as JSON.stringify(SavedMetrics), with the buckets' texts spliced in.
    const parts = [
      `{"version":1,"bucketMs":${JSON.stringify(this.bucketMs)},"startedAt":${JSON.stringify(this.startedAt)},"totals":${JSON.stringify(this.totals)},"keys":${JSON.stringify(keys)},"buckets":[`,
    ];
    let first = true;
    for (const [start, bucket] of this.buckets) {
      let text = this.bucketText.get(start);
      if (text === undefined || this.changedBuckets.has(start)) {
        text = JSON.stringify([start, [...bucket]]);
        this.bucketText.set(start, text);
      }
      parts.push(first ? text : `,${text}`);
      first = false;
    }
    parts.push(']}');
    this.changedBuckets.clear();
    this.dirty = false;
    return parts;
  }

  /** Reads a saved file, if there is one; its start time, or undefined. Throws naming the file if it cannot be used. */
  private load(file: string): number | undefined {
    if (!existsSync(file)) return undefined;
    const unusable = (why: string) =>
      new Error(`local metrics in ${file} cannot be read (${why}); move or delete the file to start without them`);
    let saved: SavedMetrics;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as SavedMetrics;
    } catch (error) {
      throw unusable(error instanceof Error ? error.message : String(error));
    }
    if (saved?.version !== 1 || !Array.isArray(saved.keys) || !Array.isArray(saved.buckets) || !saved.totals)
      throw unusable('not a version 1 metrics file');
    this.totals = { ...this.totals, ...saved.totals, runs: { ...saved.totals.runs } };
    // Buckets of another size cannot be merged into these; the totals still carry over.
    if (saved.bucketMs !== this.bucketMs) return saved.startedAt;
    for (const [id, { metric, dimensions }] of saved.keys) {
      const spec = SPECS.get(metric);
      if (spec) this.keys.set(id, { spec, dimensions });
    }
    for (const [start, aggregates] of saved.buckets) {
      const bucket = new Map<string, Aggregate>();
      for (const [id, aggregate] of aggregates)
        if (this.keys.has(id)) bucket.set(id, { ...aggregate, max: aggregate.max ?? -Infinity });
      this.buckets.set(start, bucket);
    }
    this.prune(this.clock());
    return saved.startedAt;
  }

  /** A record from the inference or pipeline code (INFERENCE_METRICS, PIPELINE_METRICS). */
  recordMetric(record: MetricRecord, at: number = this.clock()): void {
    const d = record.dimensions;
    this.dirty = true;
    if (record.name === INFERENCE_METRICS.predictions) this.totals.predictions += record.value;
    if (record.name === PIPELINE_METRICS.runs) {
      const outcome = d.outcome ?? 'unknown';
      this.totals.runs[outcome] = (this.totals.runs[outcome] ?? 0) + record.value;
    }
    if (record.name === PIPELINE_METRICS.runFailures) this.totals.runFailures += record.value;
    if (record.name === PIPELINE_METRICS.quarantinedFiles) this.totals.quarantinedFiles += record.value;
    this.add(record.name, d, record.value, at);
  }

  /** API Gateway's view of one request the API answered (the local server's own routes are not API requests). */
  recordRequest(request: ObservedRequest): void {
    const at = request.at ?? this.clock();
    const clientError = request.status >= 400 && request.status < 500 ? 1 : 0;
    const serverError = request.status >= 500 ? 1 : 0;
    this.dirty = true;
    this.totals.requests += 1;
    this.totals.clientErrors += clientError;
    this.totals.serverErrors += serverError;
    this.add(API.count, {}, 1, at);
    this.add(API.clientErrors, {}, clientError, at);
    this.add(API.serverErrors, {}, serverError, at);
    this.add(API.latency, {}, request.latencyMs, at);
  }

  snapshot(): DashboardData {
    const now = this.clock();
    this.prune(now);
    const current = this.bucketStart(now);
    const from = current - (this.bucketCount - 1) * this.bucketMs;
    const keys = [...this.keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const panels = PANELS.map((panel) => ({
      id: panel.id,
      kind: panel.kind,
      unit: panel.unit,
      series: panel.series.flatMap((spec) =>
        keys
          .filter(([, key]) => key.spec === spec)
          .flatMap(([id, key]) =>
            spec.stats.map((stat) => ({
              name: spec.label(key.dimensions, stat),
              unit: panel.unit,
              points: this.points(id, stat, spec.zeroFill === true, from, current),
            })),
          )
          .filter((series) => series.points.length > 0),
      ),
    }));
    const totals = { since: this.startedAt, ...this.totals, runs: { ...this.totals.runs } };
    return { generatedAt: now, bucketMs: this.bucketMs, from, totals, panels };
  }

  private add(metric: string, dimensions: Readonly<Record<string, string>>, value: number, at: number): void {
    const spec = SPECS.get(metric);
    if (!spec || !Number.isFinite(value) || !Number.isFinite(at)) return;
    this.prune(this.clock());
    const start = this.bucketStart(at);
    if (start < this.oldestKept) return;
    const kept = Object.fromEntries(spec.by.map((name) => [name, dimensions[name] ?? '']));
    const id = JSON.stringify([metric, ...spec.by.map((name) => kept[name])]);
    if (!this.keys.has(id)) this.keys.set(id, { spec, dimensions: kept });
    let bucket = this.buckets.get(start);
    if (!bucket) this.buckets.set(start, (bucket = new Map()));
    this.changedBuckets.add(start);
    let aggregate = bucket.get(id);
    if (!aggregate) {
      const samples = spec.stats.some((stat) => stat in PERCENTILES) ? [] : undefined;
      bucket.set(id, (aggregate = { sum: 0, max: -Infinity, last: value, seen: 0, samples }));
    }
    aggregate.sum += value;
    aggregate.max = Math.max(aggregate.max, value);
    aggregate.last = value;
    aggregate.seen += 1;
    const samples = aggregate.samples;
    if (!samples) return;
    // Reservoir sampling (algorithm R): every value seen has the same chance to be kept.
    const slot = samples.length < this.maxSamples ? samples.length : Math.floor(Math.random() * aggregate.seen);
    if (slot < this.maxSamples) samples[slot] = value;
  }

  private points(id: string, stat: Stat, zeroFill: boolean, from: number, current: number): [number, number][] {
    const points: [number, number][] = [];
    for (let t = from; t <= current; t += this.bucketMs) {
      const aggregate = this.buckets.get(t)?.get(id);
      if (aggregate) points.push([t, this.value(aggregate, stat)]);
      else if (zeroFill && points.length > 0) points.push([t, 0]);
    }
    return points;
  }

  private value(aggregate: Aggregate, stat: Stat): number {
    const p = PERCENTILES[stat];
    // V8 sorts with TimSort, linear on the already sorted samples of buckets that took no new ones.
    if (p !== undefined && aggregate.samples)
      return percentile(
        aggregate.samples.sort((a, b) => a - b),
        p,
      );
    if (stat === 'avg') return aggregate.sum / aggregate.seen;
    return stat === 'sum' ? aggregate.sum : stat === 'max' ? aggregate.max : aggregate.last;
  }

  private bucketStart(at: number): number {
    return Math.floor(at / this.bucketMs) * this.bucketMs;
  }

  /** Drops the buckets that left the window, and the series that no longer have any. */
  private prune(now: number): void {
    const oldest = this.bucketStart(now) - (this.bucketCount - 1) * this.bucketMs;
    if (oldest <= this.oldestKept) return;
    this.oldestKept = oldest;
    for (const start of this.buckets.keys()) if (start < oldest) this.buckets.delete(start);
    const live = new Set([...this.buckets.values()].flatMap((bucket) => [...bucket.keys()]));
    for (const id of this.keys.keys()) if (!live.has(id)) this.keys.delete(id);
  }
}
