import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { MonitoringReport } from '../../core/monitoring/contract';
import { type MonitoringMetricName, recordReadMetrics, recordReportMetrics } from '../../lambdas/monitoring/metrics';
import { StepFunctionsRetrainStarter } from '../../lambdas/monitoring/sfn-retrain-starter';
import { memoryRecorder } from '../../lambdas/shared/metrics';

/** What a report turns into as metrics, and how a drift retrain is started on Step Functions. */

const report = (overrides: Partial<MonitoringReport> = {}): MonitoringReport => ({
  model: 'iris',
  generatedAt: '2026-03-02T01:00:00.000Z',
  window: { from: '2026-03-01T01:00:00.000Z', to: '2026-03-02T01:00:00.000Z' },
  records: 300,
  recordsByVersion: { '2': 100, '3': 200 },
  baselineVersion: 3,
  minRecords: 200,
  judged: true,
  threshold: 0.25,
  features: [
    {
      feature: 'a',
      type: 'numeric',
      test: 'psi',
      score: 0.4,
      threshold: 0.25,
      verdict: 'drift',
      missingShare: 0,
      outOfRangeShare: 0,
    },
    {
      feature: 'b',
      type: 'categorical',
      test: 'psi',
      score: 0.02,
      threshold: 0.25,
      verdict: 'stable',
      missingShare: 0,
      unseenShare: 0,
    },
  ],
  predictions: { test: 'psi', score: 0.05, verdict: 'stable', live: {}, baseline: {} },
  feedback: { received: 12, matched: 10, unmatched: 2 },
  liveAccuracy: [
    { version: 2, labelled: 4, accuracy: 0.5, macroF1: 0.5 },
    { version: 3, labelled: 6, accuracy: 5 / 6, macroF1: 0.8 },
  ],
  drifted: ['a'],
  retrain: { started: true, execution: 'drift-iris-x', reason: 'started' },
  ...overrides,
});

function metrics(r: MonitoringReport, champion: number | null) {
  const recorder = memoryRecorder<MonitoringMetricName>();
  recordReportMetrics(recorder, r, champion);
  return Object.fromEntries(
    recorder.records.map((m) => [`${m.name}${m.dimensions.feature ? `/${m.dimensions.feature}` : ''}`, m.value]),
  );
}

describe('recordReportMetrics', () => {
  test("a judged report: drift per feature and the largest, prediction drift, the champion's live accuracy, volumes", () => {
    expect(metrics(report(), 3)).toEqual({
      CapturedRecords: 300,
      FeedbackMatched: 10,
      DriftRetrains: 1,
      'FeatureDrift/a': 0.4,
      'FeatureDrift/b': 0.02,
      MaxFeatureDrift: 0.4,
      PredictionDrift: 0.05,
      LiveAccuracy: 5 / 6,
    });
  });

  test('a report not judged reports volumes only: the drift alarm must not see noise', () => {
    const notJudged = report({
      judged: false,
      predictions: { test: 'psi', score: 2, verdict: 'not-judged', live: {}, baseline: {} },
      retrain: { started: false, reason: 'not judged' },
      liveAccuracy: [],
    });
    expect(metrics(notJudged, 3)).toEqual({ CapturedRecords: 300, FeedbackMatched: 10, DriftRetrains: 0 });
  });

  test('live accuracy follows the champion, not another version with labels', () => {
    expect(metrics(report(), 2).LiveAccuracy).toBe(0.5);
    expect(metrics(report(), null).LiveAccuracy).toBeUndefined();
  });
});

test("recordReadMetrics: the window's records that came from Firehose error output, zero included", () => {
  const recorder = memoryRecorder<MonitoringMetricName>();
  const read = {
    captureObjects: 3,
    errorOutputObjects: 2,
    errorOutputRecords: 180,
    feedbackObjects: 1,
    unparsable: 0,
    invalid: 0,
    outsideWindow: 0,
  };
  recordReadMetrics(recorder, 'iris', read);
  recordReadMetrics(recorder, 'iris', { ...read, errorOutputObjects: 0, errorOutputRecords: 0 });
  expect(recorder.records).toEqual(
    [180, 0].map((value) => ({ name: 'ErrorOutputRecords', unit: 'Count', value, dimensions: { model: 'iris' } })),
  );
});

describe('StepFunctionsRetrainStarter', () => {
  const sfn = mockClient(SFNClient);
  beforeEach(() => sfn.reset());
  const starter = new StepFunctionsRetrainStarter(
    new SFNClient({ region: 'us-east-1' }),
    'arn:aws:states:us-east-1:123456789012:stateMachine:retrain',
  );

  test('starts the named execution with trigger drift and the report key (the state machine adds execution)', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
    await expect(
      starter.start('iris', 'monitoring/iris/20260302T010000000Z.json', 'drift-iris-20260302T010000000Z'),
    ).resolves.toEqual({ started: true });
    const [call] = sfn.commandCalls(StartExecutionCommand);
    expect(call.args[0].input).toMatchObject({
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:retrain',
      name: 'drift-iris-20260302T010000000Z',
    });
    expect(JSON.parse(call.args[0].input.input as string)).toEqual({
      model: 'iris',
      trigger: 'drift',
      reportKey: 'monitoring/iris/20260302T010000000Z.json',
    });
  });

  test('ExecutionAlreadyExists means this tick started it before (a retried invocation): started', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Execution already exists'), { name: 'ExecutionAlreadyExists' }));
    await expect(starter.start('iris', 'k', 'drift-iris-x')).resolves.toEqual({ started: true });
  });

  test('fails on any other error, so the job gives the cool-down back', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(starter.start('iris', 'k', 'drift-iris-x')).rejects.toThrow('Rate exceeded');
  });
});
