import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MONITORING_METRICS } from '../../core/monitoring/contract';
import {
  type DashboardData,
  type DashboardSeries,
  LocalMetrics,
  PANEL_IDS,
  type PanelId,
} from '../../local/local-metrics';
import { INFERENCE_METRICS } from '../../lambdas/inference/metrics';
import { PIPELINE_METRICS } from '../../lambdas/pipeline/metrics';

const BUCKET = 10_000;
const T0 = 1_700_000_000_000; // a bucket boundary

/** A LocalMetrics on a clock the test moves. */
function metricsAt(start = T0, options: { retentionMs?: number; maxSamplesPerBucket?: number } = {}) {
  const clock = { now: start };
  const metrics = new LocalMetrics({ bucketMs: BUCKET, clock: () => clock.now, ...options });
  return { metrics, clock };
}

const panel = (data: DashboardData, id: PanelId): readonly DashboardSeries[] =>
  data.panels.find((p) => p.id === id)?.series ?? [];
const points = (data: DashboardData, id: PanelId) =>
  Object.fromEntries(panel(data, id).map((s) => [s.name, s.points.map(([t, v]) => [t - T0, v])]));

const request = (status: number, latencyMs = 5, at?: number) => ({
  method: 'POST',
  path: '/models/iris/predict',
  status,
  latencyMs,
  at,
});
const predictions = (cls: string, value: number, version = '1') => ({
  name: INFERENCE_METRICS.predictions,
  unit: 'Count' as const,
  value,
  dimensions: { model: 'iris', version, class: cls },
});

describe('LocalMetrics', () => {
  test('counts requests, 4xx and 5xx per bucket of the injected clock', () => {
    const { metrics, clock } = metricsAt();
    metrics.recordRequest(request(200));
    metrics.recordRequest(request(404));
    clock.now = T0 + 9_999;
    metrics.recordRequest(request(503));
    clock.now = T0 + 25_000;
    metrics.recordRequest(request(200));

    expect(points(metrics.snapshot(), 'requests')).toEqual({
      requests: [
        [0, 3],
        [10_000, 0],
        [20_000, 1],
      ],
      '4xx': [
        [0, 1],
        [10_000, 0],
        [20_000, 0],
      ],
      '5xx': [
        [0, 1],
        [10_000, 0],
        [20_000, 0],
      ],
    });
  });

  test('gives exact nearest-rank percentiles of the API latency in each bucket', () => {
    const { metrics } = metricsAt();
    // 1..100 ms in a shuffled order, then 1..10 ms in the next bucket
    for (const ms of [...Array(100).keys()].map((i) => ((i * 37) % 100) + 1))
      metrics.recordRequest(request(200, ms, T0 + 1));
    for (let ms = 10; ms >= 1; ms--) metrics.recordRequest(request(200, ms, T0 - BUCKET));

    expect(points(metrics.snapshot(), 'api-latency')).toEqual({
      p50: [
        [-10_000, 5],
        [0, 50],
      ],
      p90: [
        [-10_000, 9],
        [0, 90],
      ],
      p99: [
        [-10_000, 10],
        [0, 99],
      ],
    });
  });

  test('gives InferenceLatency p50 and p99 per model', () => {
    const { metrics } = metricsAt();
    for (const value of [4, 1, 3, 2])
      metrics.recordMetric({
        name: INFERENCE_METRICS.inferenceLatency,
        unit: 'Milliseconds',
        value,
        dimensions: { model: 'iris' },
      });
    metrics.recordMetric({
      name: INFERENCE_METRICS.inferenceLatency,
      unit: 'Milliseconds',
      value: 7,
      dimensions: { model: 'wine' },
    });

    expect(points(metrics.snapshot(), 'inference-latency')).toEqual({
      'iris p50': [[0, 2]],
      'iris p99': [[0, 4]],
      'wine p50': [[0, 7]],
      'wine p99': [[0, 7]],
    });
  });

  test('keeps at most maxSamplesPerBucket latency samples per bucket, sampled from the real ones', () => {
    const { metrics } = metricsAt(T0, { maxSamplesPerBucket: 1 });
    for (let ms = 1; ms <= 1000; ms++) metrics.recordRequest(request(200, ms));

    const data = metrics.snapshot();
    const [[[, p50]], [[, p90]], [[, p99]]] = panel(data, 'api-latency').map((s) => s.points);
    // One sample kept: every percentile is that sample (with all 1000 they would be 500, 900 and 990).
    expect([p90, p99]).toEqual([p50, p50]);
    expect(Number.isInteger(p50) && p50 >= 1 && p50 <= 1000).toBe(true);
    expect(data.totals.requests).toBe(1000);
  });

  test('sums predictions per model and class across model versions', () => {
    const { metrics, clock } = metricsAt();
    metrics.recordMetric(predictions('setosa', 2, '1'));
    metrics.recordMetric(predictions('setosa', 3, '2'));
    metrics.recordMetric(predictions('virginica', 1, '2'));
    clock.now = T0 + BUCKET;
    metrics.recordMetric(predictions('virginica', 4, '2'));

    const data = metrics.snapshot();
    expect(points(data, 'predictions')).toEqual({
      'iris setosa': [
        [0, 5],
        [10_000, 0],
      ],
      'iris virginica': [
        [0, 1],
        [10_000, 4],
      ],
    });
    expect(data.totals.predictions).toBe(10);
  });

  test('shows the highest model version in service per model and bucket', () => {
    const { metrics } = metricsAt();
    for (const [model, version] of [
      ['iris', 1],
      ['iris', 2],
      ['iris', 1],
      ['wine', 5],
    ] as const) {
      metrics.recordMetric({
        name: INFERENCE_METRICS.modelVersionInService,
        unit: 'None',
        value: version,
        dimensions: { model },
      });
    }

    expect(points(metrics.snapshot(), 'model-version')).toEqual({ iris: [[0, 2]], wine: [[0, 5]] });
  });

  test('counts requests and server errors per model and variant, the rollout split', () => {
    const { metrics, clock } = metricsAt();
    const variant = (name: string, model: string, v: string) => ({
      name,
      unit: 'Count' as const,
      value: 1,
      dimensions: { model, variant: v },
    });
    for (let i = 0; i < 9; i++) metrics.recordMetric(variant(INFERENCE_METRICS.variantRequests, 'iris', 'champion'));
    metrics.recordMetric(variant(INFERENCE_METRICS.variantRequests, 'iris', 'canary'));
    metrics.recordMetric(variant(INFERENCE_METRICS.variantServerErrors, 'iris', 'canary'));
    clock.now = T0 + BUCKET;
    metrics.recordMetric(variant(INFERENCE_METRICS.variantRequests, 'iris', 'champion'));

    expect(points(metrics.snapshot(), 'variants')).toEqual({
      'iris canary': [
        [0, 1],
        [10_000, 0],
      ],
      'iris champion': [
        [0, 9],
        [10_000, 1],
      ],
      'iris canary 5xx': [[0, 1]],
    });
  });

  test('averages the shadow agreement of the requests in each bucket, per model', () => {
    const { metrics, clock } = metricsAt();
    const agreement = (model: string, value: number) => ({
      name: INFERENCE_METRICS.shadowAgreement,
      unit: 'None' as const,
      value,
      dimensions: { model },
    });
    for (const value of [1, 0.5, 0.75]) metrics.recordMetric(agreement('iris', value));
    metrics.recordMetric(agreement('wine', 0));
    clock.now = T0 + BUCKET;
    metrics.recordMetric(agreement('iris', 1));

    expect(points(metrics.snapshot(), 'shadow')).toEqual({
      'iris agreement': [
        [0, 0.75],
        [10_000, 1],
      ],
      'wine agreement': [[0, 0]],
    });
  });

  test('counts pipeline runs by model and outcome, failures and quarantined files, in the panel and the totals', () => {
    const { metrics } = metricsAt();
    const runs = (model: string, outcome: string) => ({
      name: PIPELINE_METRICS.runs,
      unit: 'Count' as const,
      value: 1,
      dimensions: { model, outcome },
    });
    metrics.recordMetric(runs('iris', 'promoted'));
    metrics.recordMetric(runs('iris', 'rejected'));
    metrics.recordMetric(runs('iris', 'rejected'));
    metrics.recordMetric(runs('wine', 'promoted'));
    metrics.recordMetric({
      name: PIPELINE_METRICS.runFailures,
      unit: 'Count',
      value: 1,
      dimensions: { model: 'iris' },
    });
    metrics.recordMetric({
      name: PIPELINE_METRICS.quarantinedFiles,
      unit: 'Count',
      value: 1,
      dimensions: { model: 'wine' },
    });

    const data = metrics.snapshot();
    expect(points(data, 'pipeline-runs')).toEqual({
      'iris promoted': [[0, 1]],
      'iris rejected': [[0, 2]],
      'wine promoted': [[0, 1]],
      'iris failed': [[0, 1]],
      'wine quarantined': [[0, 1]],
    });
    expect(data.totals).toMatchObject({ runs: { promoted: 2, rejected: 2 }, runFailures: 1, quarantinedFiles: 1 });
  });

  test('shows the last candidate and champion score and promotion of each bucket', () => {
    const { metrics } = metricsAt();
    const score = (name: string, value: number) => ({
      name,
      unit: 'None' as const,
      value,
      dimensions: { model: 'iris', metric: 'macroF1' },
    });
    metrics.recordMetric(score(PIPELINE_METRICS.candidateScore, 0.91));
    metrics.recordMetric(score(PIPELINE_METRICS.championScore, 0.93));
    metrics.recordMetric(score(PIPELINE_METRICS.candidateScore, 0.97));
    metrics.recordMetric({ name: PIPELINE_METRICS.promoted, unit: 'Count', value: 1, dimensions: { model: 'iris' } });

    expect(points(metrics.snapshot(), 'scores')).toEqual({
      'iris candidate (macroF1)': [[0, 0.97]],
      'iris champion (macroF1)': [[0, 0.93]],
      'iris promoted': [[0, 1]],
    });
  });

  test('draws the last drift per feature, the live accuracy and the data loop volumes', () => {
    const { metrics } = metricsAt();
    const drift = (feature: string, value: number) => ({
      name: MONITORING_METRICS.featureDrift,
      unit: 'None' as const,
      value,
      dimensions: { model: 'iris', feature },
    });
    metrics.recordMetric(drift('petal_length', 0.02));
    metrics.recordMetric(drift('petal_length', 1.7));
    metrics.recordMetric(drift('sepal_width', 0.01));
    metrics.recordMetric({
      name: MONITORING_METRICS.predictionDrift,
      unit: 'None',
      value: 0.4,
      dimensions: { model: 'iris' },
    });
    metrics.recordMetric({
      name: MONITORING_METRICS.liveAccuracy,
      unit: 'None',
      value: 0.95,
      dimensions: { model: 'iris' },
    });
    metrics.recordMetric({
      name: INFERENCE_METRICS.capturedInstances,
      unit: 'Count',
      value: 3,
      dimensions: { model: 'iris' },
    });
    metrics.recordMetric({
      name: INFERENCE_METRICS.capturedInstances,
      unit: 'Count',
      value: 1,
      dimensions: { model: 'iris' },
    });
    metrics.recordMetric({
      name: INFERENCE_METRICS.feedbackLabels,
      unit: 'Count',
      value: 2,
      dimensions: { model: 'iris' },
    });

    expect(points(metrics.snapshot(), 'drift')).toEqual({
      'iris petal_length': [[0, 1.7]],
      'iris sepal_width': [[0, 0.01]],
      'iris predictions': [[0, 0.4]],
    });
    expect(points(metrics.snapshot(), 'live-accuracy')).toEqual({ iris: [[0, 0.95]] });
    expect(points(metrics.snapshot(), 'data-loop')).toEqual({ 'iris captured': [[0, 4]], 'iris labels': [[0, 2]] });
  });

  test('counts cold starts and model load failures', () => {
    const { metrics } = metricsAt();
    metrics.recordMetric({ name: INFERENCE_METRICS.coldStarts, unit: 'Count', value: 1, dimensions: {} });
    metrics.recordMetric({
      name: INFERENCE_METRICS.modelLoadFailures,
      unit: 'Count',
      value: 1,
      dimensions: { model: 'iris' },
    });

    expect(points(metrics.snapshot(), 'health')).toEqual({ 'cold starts': [[0, 1]], 'iris load failures': [[0, 1]] });
  });

  test('drops buckets older than the retention as time passes, but keeps them in the totals', () => {
    const { metrics, clock } = metricsAt(T0, { retentionMs: 60_000 });
    metrics.recordRequest(request(500));
    metrics.recordMetric(predictions('setosa', 1));
    clock.now = T0 + 50_000;
    metrics.recordRequest(request(200));

    expect(points(metrics.snapshot(), 'requests').requests).toEqual([
      [0, 1],
      [10_000, 0],
      [20_000, 0],
      [30_000, 0],
      [40_000, 0],
      [50_000, 1],
    ]);

    clock.now = T0 + 60_000;
    const data = metrics.snapshot();
    expect(data.from).toBe(T0 + 10_000);
    expect(points(data, 'requests').requests).toEqual([
      [50_000, 1],
      [60_000, 0],
    ]);
    expect(points(data, 'predictions')).toEqual({});
    expect(data.totals).toMatchObject({ requests: 2, serverErrors: 1, predictions: 1 });
  });

  test('ignores records timestamped before the window', () => {
    const { metrics } = metricsAt(T0, { retentionMs: 60_000 });
    metrics.recordRequest(request(200, 5, T0 - 60_000));

    const data = metrics.snapshot();
    expect(panel(data, 'requests')).toEqual([]);
    expect(data.totals.requests).toBe(1);
  });

  test('gives every panel, empty ones without series, as plain JSON', () => {
    const { metrics } = metricsAt();
    const data = metrics.snapshot();

    expect(data.panels.map((p) => p.id)).toEqual(PANEL_IDS);
    expect(data.panels.every((p) => p.series.length === 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
    expect(data).toMatchObject({ generatedAt: T0, bucketMs: BUCKET, totals: { since: T0, requests: 0, runs: {} } });
  });

  test('fails on a bucket size that is not a positive integer or a retention shorter than a bucket', () => {
    expect(() => new LocalMetrics({ bucketMs: 0 })).toThrow(/bucketMs must be a positive integer, got 0/);
    expect(() => new LocalMetrics({ bucketMs: 10_000, retentionMs: 5_000 })).toThrow(
      /retentionMs must be at least bucketMs/,
    );
  });
});

describe('LocalMetrics kept in a file across restarts', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-metrics-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (value: number) => ({
    name: PIPELINE_METRICS.runs,
    unit: 'Count' as const,
    value,
    dimensions: { model: 'iris', outcome: 'promoted' },
  });

  test('a new instance on the same file shows what the last one saved: series, percentiles and totals', () => {
    const file = join(dir, 'metrics.json');
    const clock = { now: T0 };
    const before = new LocalMetrics({ bucketMs: BUCKET, clock: () => clock.now, file });
    before.recordRequest(request(200, 4));
    before.recordRequest(request(500, 300));
    before.recordMetric(predictions('setosa', 3));
    before.recordMetric(run(1));
    before.save();
    const saved = before.snapshot();

    clock.now = T0 + 2 * BUCKET;
    const after = new LocalMetrics({ bucketMs: BUCKET, clock: () => clock.now, file });
    const restored = after.snapshot();
    expect(restored.totals).toEqual(saved.totals);
    expect(restored.totals.since).toBe(T0);
    // The same points, then (for zero-filled counts) zeros up to now.
    for (const id of ['requests', 'api-latency', 'predictions', 'pipeline-runs'] as const)
      for (const [name, kept] of Object.entries(points(saved, id)))
        expect(points(restored, id)[name].slice(0, kept.length)).toEqual(kept);
    expect(Object.keys(points(restored, 'pipeline-runs'))).toEqual(['iris promoted']);
    expect(points(restored, 'api-latency').p99).toEqual([[0, 300]]);

    // and it keeps counting on top of them
    after.recordRequest(request(200));
    expect(after.snapshot().totals.requests).toBe(3);
  });

  test('save() writes only when something changed, and whole (no temporary file left)', () => {
    const file = join(dir, 'metrics.json');
    const metrics = new LocalMetrics({ bucketMs: BUCKET, clock: () => T0, file });
    metrics.save();
    expect(readdirSync(dir)).toEqual([]);
    metrics.recordRequest(request(200));
    metrics.save();
    expect(readdirSync(dir)).toEqual(['metrics.json']);
  });

  test('saveInBackground writes what save() writes, and a bucket saved before is written again with its later values', async () => {
    const clock = { now: T0 };
    const metrics = new LocalMetrics({ bucketMs: BUCKET, clock: () => clock.now, file: join(dir, 'metrics.json') });
    metrics.recordRequest(request(200, 4));
    metrics.recordMetric(predictions('setosa', 3));
    await metrics.saveInBackground();
    clock.now = T0 + BUCKET;
    metrics.recordRequest(request(500, 300));
    // A late value for the first bucket: its cached text must not be reused.
    metrics.recordRequest({ ...request(200, 7), at: T0 });
    await metrics.saveInBackground();
    const background = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as unknown;
    expect(readdirSync(dir)).toEqual(['metrics.json']);

    // The same records in the same order, saved once, synchronously.
    const referenceClock = { now: T0 };
    const reference = new LocalMetrics({
      bucketMs: BUCKET,
      clock: () => referenceClock.now,
      file: join(dir, 'reference.json'),
    });
    reference.recordRequest(request(200, 4));
    reference.recordMetric(predictions('setosa', 3));
    referenceClock.now = T0 + BUCKET;
    reference.recordRequest(request(500, 300));
    reference.recordRequest({ ...request(200, 7), at: T0 });
    reference.save();
    expect(background).toEqual(JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')));
    const restored = new LocalMetrics({ bucketMs: BUCKET, clock: () => clock.now, file: join(dir, 'metrics.json') });
    expect(restored.snapshot().totals.requests).toBe(3);
  });

  test('buckets that left the window while it was stopped are dropped; the totals stay', () => {
    const file = join(dir, 'metrics.json');
    const before = new LocalMetrics({ bucketMs: BUCKET, retentionMs: 60_000, clock: () => T0, file });
    before.recordRequest(request(200));
    before.save();

    const after = new LocalMetrics({ bucketMs: BUCKET, retentionMs: 60_000, clock: () => T0 + 120_000, file });
    const data = after.snapshot();
    expect(panel(data, 'requests')).toEqual([]);
    expect(data.totals.requests).toBe(1);
  });

  test('without a file nothing is written and a restart starts afresh', () => {
    const metrics = new LocalMetrics({ bucketMs: BUCKET, clock: () => T0 });
    metrics.recordRequest(request(200));
    metrics.save();
    expect(readdirSync(dir)).toEqual([]);
  });

  test('fails naming the file when it is not a metrics file, rather than overwrite it', () => {
    const file = join(dir, 'metrics.json');
    writeFileSync(file, '{"not": "metrics"}');
    expect(() => new LocalMetrics({ file })).toThrow(
      `local metrics in ${file} cannot be read (not a version 1 metrics file); move or delete the file to start without them`,
    );
    writeFileSync(file, '{');
    expect(() => new LocalMetrics({ file })).toThrow(/cannot be read \(.*JSON.*\)/);
  });
});
