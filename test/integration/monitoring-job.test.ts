import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type CaptureRecord,
  compactTime,
  driftRetrainStateKey,
  type MonitoringReport,
  monitoringReportKey,
} from '../../core/monitoring/contract';
import { driftExecutionName } from '../../core/monitoring/drift-retrain';
import { type MonitoringJobDeps, runMonitoring } from '../../core/monitoring/job';
import type { Baseline, MonitoringSettings } from '../../core/monitoring/contract';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import type { ObjectStore } from '../../core/object-store';
import type { S3ObjectStore } from '../../core/s3-object-store';
import { MonitoringRequestError } from '../../lambdas/monitoring/deps';
import { createMonitoringRunner } from '../../lambdas/monitoring/runner';
import { memoryRecorder } from '../../lambdas/shared/metrics';
import type { MonitoringMetricName } from '../../lambdas/monitoring/metrics';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import {
  captureRecords,
  championSource,
  putCapture,
  putFeedback,
  recordingStarter,
  seeded,
  settings,
  trainingBaseline,
} from '../helpers/monitoring-data';

/**
 * The monitoring job on the local S3 server (which enforces If-None-Match / If-Match like S3, so
 * the concurrent-ticks test can fail), with the baseline training computes. Each test uses its own
 * model name: capture, reports and the cool-down state are per model.
 */

const NOW = new Date('2026-03-02T01:00:00.000Z');
const hoursBefore = (hours: number, from = NOW) => new Date(from.getTime() - hours * 3600_000);

describe('monitoring job on a local S3 server', () => {
  let s3: TestS3;
  let store: S3ObjectStore;
  let baseline: Baseline;

  beforeAll(async () => {
    // firehose-data: a bucket of its own for Firehose's error output, which holds every model's records.
    s3 = await startTestS3(['data', 'firehose-data']);
    store = s3.store('data');
    baseline = trainingBaseline();
  });
  afterAll(() => s3.close());

  const deps = ({
    config,
    ...overrides
  }: Partial<MonitoringJobDeps> & { config?: Partial<MonitoringSettings> } = {}) => {
    const retrain = recordingStarter();
    const d: MonitoringJobDeps = {
      dataStore: store,
      models: championSource(3, baseline),
      settings: () => settings(config),
      retrain,
      ...overrides,
    };
    return { retrain, deps: d };
  };
  const readReport = async (key: string) =>
    JSON.parse(Buffer.from((await store.get(key))!.body).toString('utf8')) as MonitoringReport;

  /** `count` records of the training distribution (or shifted), captured over the last hours. */
  const capture = async (
    model: string,
    count: number,
    options: { shift?: number; seed?: number; at?: Date; gzip?: boolean } = {},
  ) => {
    const at = options.at ?? hoursBefore(2);
    const records = captureRecords(model, count, {
      time: at,
      random: seeded(options.seed ?? 11),
      shift: options.shift,
      version: 3,
    });
    await putCapture(store, model, records, new Date(at.getTime() + 60_000), { gzip: options.gzip });
    return records;
  };

  test('under minRecords: not judged, no retrain, the report says why', async () => {
    const { deps: d, retrain } = deps();
    await capture('few', 150, { shift: 3 });
    const { report, reportKey } = await runMonitoring(d, 'few', NOW);
    expect(reportKey).toBe(monitoringReportKey('few', NOW));
    expect(report).toMatchObject({
      records: 150,
      judged: false,
      drifted: [],
      retrain: {
        started: false,
        reason: expect.stringContaining('150 records in the window, fewer than the 200 needed'),
      },
    });
    expect(report.features.every((f) => f.verdict === 'not-judged')).toBe(true);
    expect(retrain.calls).toEqual([]);
    expect(await readReport(reportKey)).toEqual(report);
  });

  test('traffic like the training data: every feature stable, no retrain', async () => {
    const { deps: d, retrain } = deps();
    await capture('stable', 500, { seed: 21 });
    const { report } = await runMonitoring(d, 'stable', NOW);
    expect(report.judged).toBe(true);
    expect(report.features.map((f) => f.feature)).toEqual(['petal_length', 'sepal_width', 'colour', 'note']);
    for (const f of report.features) expect(f.score).toBeLessThan(0.1);
    expect(report.predictions.verdict).toBe('stable');
    expect(report.retrain).toEqual({
      started: false,
      reason: expect.stringMatching(/^no drift: every feature's PSI is below the threshold 0.25 \(largest: /),
    });
    expect(retrain.calls).toEqual([]);
  });

  test('a shifted feature drifts and starts one retrain; ticks in the cool-down start none; after it, one more', async () => {
    const { deps: d, retrain } = deps();
    await capture('shifted', 300, { shift: 2, seed: 31 });
    const first = await runMonitoring(d, 'shifted', NOW);
    expect(first.report.drifted).toEqual(['petal_length']);
    expect(first.report.features.find((f) => f.feature === 'petal_length')).toMatchObject({
      verdict: 'drift',
      score: expect.any(Number),
    });
    expect(first.report.features.filter((f) => f.feature !== 'petal_length').every((f) => f.verdict === 'stable')).toBe(
      true,
    );
    const execution = `drift-shifted-${compactTime(NOW)}`;
    expect(first.report.retrain).toEqual({ started: true, execution, reason: 'started: drift in petal_length' });
    expect(retrain.calls).toEqual([{ model: 'shifted', reportKey: first.reportKey, executionName: execution }]);
    expect((await readReport(first.reportKey)).retrain.started).toBe(true);
    expect(JSON.parse(Buffer.from((await store.get(driftRetrainStateKey('shifted')))!.body).toString('utf8'))).toEqual({
      startedAt: NOW.toISOString(),
      execution,
      reportKey: first.reportKey,
    });

    for (const later of [1, 5, 21]) {
      const { report } = await runMonitoring(d, 'shifted', hoursBefore(-later));
      expect(report.drifted).toEqual(['petal_length']);
      expect(report.retrain).toEqual({
        started: false,
        reason: `drift in petal_length, not retraining: cool-down until 2026-03-03T01:00:00.000Z: drift retrain ${execution} started at ${NOW.toISOString()}`,
      });
    }
    expect(retrain.calls).toHaveLength(1);

    const dayLater = hoursBefore(-25);
    await capture('shifted', 300, { shift: 2, seed: 32, at: hoursBefore(2, dayLater) });
    const again = await runMonitoring(d, 'shifted', dayLater);
    expect(again.report.retrain.started).toBe(true);
    expect(retrain.calls.map((c) => c.executionName)).toEqual([execution, driftExecutionName('shifted', dayLater)]);
  });

  /** `ticks` runs at once, each reading the cool-down state before any of them writes it: the race the conditional write decides. */
  const raceTicks = async (model: string, at: Date, ticks: number, retrain = recordingStarter()) => {
    let arrived = 0;
    let release: () => void = () => undefined;
    const allRead = new Promise<void>((resolve) => (release = resolve));
    const racing: ObjectStore = {
      get: async (key) => {
        const object = await store.get(key);
        if (key === driftRetrainStateKey(model) && arrived < ticks) {
          if (++arrived === ticks) release();
          await allRead;
        }
        return object;
      },
      getIfChanged: (key, etag) => store.getIfChanged(key, etag),
      put: (key, body, options) => store.put(key, body, options),
      list: (prefix) => store.list(prefix),
      listPrefixes: (prefix) => store.listPrefixes(prefix),
      delete: (key) => store.delete(key),
    };
    const { deps: d } = deps({ dataStore: racing, retrain });
    // Different times: different report keys and execution names, so only the state can keep them to one.
    const runs = await Promise.all(
      Array.from({ length: ticks }, (_, i) => runMonitoring(d, model, new Date(at.getTime() + i))),
    );
    return { runs, retrain };
  };

  test('concurrent ticks seeing the same drift start exactly one retrain, with no state yet and after a cool-down', async () => {
    await capture('race', 300, { shift: 2, seed: 41 });
    const first = await raceTicks('race', NOW, 6);
    expect(first.retrain.calls).toHaveLength(1);
    expect(first.runs.filter((r) => r.report.retrain.started)).toHaveLength(1);
    for (const run of first.runs.filter((r) => !r.report.retrain.started))
      expect(run.report.retrain.reason).toMatch(/claimed the drift retrain first \(drift-race-/);

    // A day later every tick reads the expired state and replaces it with If-Match on its ETag.
    const dayLater = hoursBefore(-25);
    await capture('race', 300, { shift: 2, seed: 42, at: hoursBefore(2, dayLater) });
    const second = await raceTicks('race', dayLater, 6);
    expect(second.retrain.calls).toHaveLength(1);
    expect(second.runs.filter((r) => r.report.retrain.started)).toHaveLength(1);
  });

  test('feedback joins by id: live accuracy equals the hand count; unknown ids are unmatched; the latest label wins', async () => {
    const { deps: d } = deps();
    const records = await capture('labelled', 250, { seed: 51 });
    // The first 100 get their own answer as label except every fourth: 75 right of 100.
    const labels = records.slice(0, 100).map((r, i) => ({
      inferenceId: r.inferenceId,
      label: i % 4 === 0 ? (r.label === 'setosa' ? 'virginica' : 'setosa') : r.label,
    }));
    await putFeedback(store, 'labelled', labels.slice(0, 60), hoursBefore(1));
    await putFeedback(
      store,
      'labelled',
      [
        ...labels.slice(60),
        { inferenceId: 'labelled-unknown-1', label: 'setosa' },
        { inferenceId: 'labelled-unknown-2', label: 'virginica' },
      ],
      hoursBefore(0.5),
    );
    // Relabelled later, wrongly: the later label wins, so 74 of 100.
    await putFeedback(
      store,
      'labelled',
      [{ inferenceId: records[1].inferenceId, label: records[1].label === 'setosa' ? 'versicolor' : 'setosa' }],
      hoursBefore(0.1),
    );
    const { report } = await runMonitoring(d, 'labelled', NOW);
    expect(report.feedback).toEqual({ received: 102, matched: 100, unmatched: 2 });
    expect(report.liveAccuracy).toEqual([{ version: 3, labelled: 100, accuracy: 0.74, macroF1: expect.any(Number) }]);
  });

  test('reads gzip objects and ignores records outside the window, whatever partition they are in', async () => {
    const { deps: d } = deps();
    await capture('mixed', 120, { seed: 61 });
    await capture('mixed', 90, { seed: 62, gzip: true, at: hoursBefore(3) });
    // Late arrivals of records from before the window, in a partition inside it; and records stamped at or after `now`.
    await capture('mixed', 40, { seed: 63, at: hoursBefore(24.5) });
    await putCapture(
      store,
      'mixed',
      captureRecords('mixed', 25, { time: NOW, random: seeded(64), version: 3 }),
      hoursBefore(0.5),
    );
    const { report, read } = await runMonitoring(d, 'mixed', NOW);
    expect(report.records).toBe(210);
    expect(report.recordsByVersion).toEqual({ '3': 210 });
    expect(read).toMatchObject({ captureObjects: 4, outsideWindow: 65, unparsable: 0, invalid: 0 });
    expect(report.window).toEqual({ from: hoursBefore(24).toISOString(), to: NOW.toISOString() });
  });

  test("records Firehose sent to capture-errors/ count once each with capture/<model>/; another model's there are ignored", async () => {
    const firehose = s3.store('firehose-data');
    const { deps: d } = deps({ dataStore: firehose });
    const at = hoursBefore(3);
    const records = captureRecords('split', 300, { time: at, random: seeded(81), version: 3 });
    const neighbours = captureRecords('neighbour', 40, { time: at, random: seeded(82), version: 1 });
    const late = captureRecords('split', 15, { time: hoursBefore(26), random: seeded(83), version: 3 });
    /** A CloudWatch Logs batch as the subscription sends it, and Firehose's error-output line for it (the batch kept gzipped). */
    const envelope = (batch: readonly CaptureRecord[]) =>
      JSON.stringify({
        messageType: 'DATA_MESSAGE',
        owner: '123456789012',
        logGroup: '/aws/lambda/inference',
        logStream: 's',
        subscriptionFilters: ['capture'],
        logEvents: batch.map((r, i) => ({ id: String(i), timestamp: at.getTime(), message: JSON.stringify(r) })),
      });
    const failed = (errorCode: string, rawData: Uint8Array | string) =>
      JSON.stringify({
        attemptsMade: 1,
        arrivalTimestamp: at.getTime(),
        errorCode,
        errorMessage: 'failed',
        rawData: Buffer.from(rawData).toString('base64'),
      });
    const overLimit = 'DynamicPartitioning.DeAggregationRecordCountLimitExceeded';

    await putCapture(firehose, 'split', records.slice(0, 120), new Date(at.getTime() + 60_000));
    // One batch over the 500-record limit holds both models; a malformed line's batch, decompressed; a late arrival from before the window.
    await firehose.put(
      'capture-errors/partitioning-failed/date=2026-03-01/capture-1',
      `${failed(overLimit, gzipSync(envelope([...records.slice(120, 270), ...neighbours])))}\n${failed(overLimit, gzipSync(envelope(late)))}\n`,
    );
    await firehose.put(
      'capture-errors/processing-failed/date=2026-03-01/capture-2',
      `${failed('DynamicPartitioning.MetadataExtractionFailed', envelope(records.slice(270)))}\n`,
    );
    // Outside the window's days: never listed.
    await firehose.put(
      'capture-errors/partitioning-failed/date=2026-02-27/capture-3',
      `${failed(overLimit, gzipSync(envelope(records.slice(0, 50))))}\n`,
    );
    // Labels for records that came only through error output join like any other.
    await putFeedback(
      firehose,
      'split',
      records.slice(200, 210).map((r) => ({ inferenceId: r.inferenceId, label: r.label })),
      hoursBefore(1),
    );

    const { report, read } = await runMonitoring(d, 'split', NOW);
    expect(report.records).toBe(300);
    expect(report.recordsByVersion).toEqual({ '3': 300 });
    expect(report.feedback).toEqual({ received: 10, matched: 10, unmatched: 0 });
    expect(read).toEqual({
      captureObjects: 1,
      errorOutputObjects: 2,
      errorOutputRecords: 180,
      feedbackObjects: 1,
      unparsable: 0,
      invalid: 0,
      outsideWindow: 15,
    });

    // The local platform writes capture/<model>/ only: nothing to list under capture-errors/.
    expect((await runMonitoring(deps().deps, 'stable', NOW)).read).toMatchObject({
      errorOutputObjects: 0,
      errorOutputRecords: 0,
    });
  });

  test('without a champion, or with a champion trained before baselines, nothing is judged', async () => {
    await capture('nochamp', 250, { shift: 3 });
    const none = await runMonitoring(deps({ models: championSource(undefined, undefined) }).deps, 'nochamp', NOW);
    expect(none.report).toMatchObject({
      judged: false,
      baselineVersion: null,
      features: [],
      retrain: { started: false, reason: 'not judged: the model has no champion to compare with' },
    });
    const old = await runMonitoring(deps({ models: championSource(2, undefined) }).deps, 'nochamp', NOW);
    expect(old.report.retrain.reason).toBe(
      'not judged: champion v2 has no baseline (trained before baselines were recorded)',
    );
    expect(old.championVersion).toBe(2);
  });

  test('retrain off: drift is reported, nothing starts', async () => {
    const { deps: d, retrain } = deps({ config: { retrainOnDrift: false } });
    await capture('off', 250, { shift: 2 });
    const { report } = await runMonitoring(d, 'off', NOW);
    expect(report.retrain).toEqual({
      started: false,
      reason: 'drift in petal_length, but retraining on drift is off (monitoring.retrainOnDrift)',
    });
    expect(retrain.calls).toEqual([]);
  });

  test('a start that fails gives the cool-down back, so the next tick starts it', async () => {
    const { deps: d, retrain } = deps();
    await capture('flaky', 250, { shift: 2 });
    retrain.fail = new Error('ThrottlingException: Rate exceeded');
    const failure = runMonitoring(d, 'flaky', NOW);
    await expect(failure).rejects.toThrow(/starting drift retrain drift-flaky-.* failed: ThrottlingException/);
    await expect(failure).rejects.toMatchObject({ name: 'RetrainStartError' });
    expect((await readReport(monitoringReportKey('flaky', NOW))).retrain).toMatchObject({
      started: false,
      reason: expect.stringContaining('failed: ThrottlingException'),
    });
    expect(await store.get(driftRetrainStateKey('flaky'))).toBeUndefined();
    retrain.fail = undefined;
    expect((await runMonitoring(d, 'flaky', hoursBefore(-0.1))).report.retrain.started).toBe(true);
  });

  describe('the runner the Lambda and the local platform call', () => {
    const iris = loadModelSpecs(join(__dirname, '..', '..', 'config', 'models')).find((s) => s.name === 'iris')!;
    const runner = (retrain = recordingStarter()) => {
      const recorder = memoryRecorder<MonitoringMetricName>();
      const run = createMonitoringRunner({
        dataStore: store,
        models: championSource(3, baseline),
        specs: new Map([['iris', { ...iris, monitoring: { minRecords: 100 } }]]),
        retrain,
        clock: () => NOW,
        recorder,
      });
      return { run, recorder, retrain };
    };

    test("runs the spec's settings and records the report's metrics", async () => {
      await capture('iris', 150, { shift: 2, seed: 71 });
      const { run, recorder, retrain } = runner();
      const { report } = await run({ model: 'iris' });
      expect(report.minRecords).toBe(100);
      expect(retrain.calls).toHaveLength(1);
      const metric = (name: string) => recorder.records.filter((r) => r.name === name);
      expect(metric('FeatureDrift').map((r) => r.dimensions)).toEqual(
        ['petal_length', 'sepal_width', 'colour', 'note'].map((feature) => ({ model: 'iris', feature })),
      );
      expect(metric('MaxFeatureDrift')[0].value).toBe(report.features.find((f) => f.feature === 'petal_length')!.score);
      expect(metric('CapturedRecords')).toEqual([
        { name: 'CapturedRecords', unit: 'Count', value: 150, dimensions: { model: 'iris' } },
      ]);
      expect(metric('DriftRetrains')[0].value).toBe(1);
      expect(metric('ErrorOutputRecords')).toEqual([
        { name: 'ErrorOutputRecords', unit: 'Count', value: 0, dimensions: { model: 'iris' } },
      ]);
      expect(metric('LiveAccuracy')).toEqual([]);
    });

    test('fails on an event without a model, or a model with no spec, naming the known ones', async () => {
      const { run } = runner();
      await expect(run({ 'detail-type': 'Scheduled Event' })).rejects.toThrow(MonitoringRequestError);
      await expect(run({ model: 'nope', source: 'cli' })).rejects.toThrow(
        'no model spec for model "nope" (known models: iris)',
      );
    });
  });
});
