import {
  type AlarmThresholds,
  DEFAULT_ALARM_THRESHOLDS,
  MAX_ALARM_LOOKBACK_HOURS,
  resolveAlarmThresholds,
  retrainingStaleWindow,
  validateAlarmThresholds,
} from '../../lib/monitoring/alarm-thresholds';
import { ALARM_IDS, platformAlarmCatalog } from '../../lib/monitoring/platform-alarms';
import { monitoredModelsProblems } from '../../lib/stacks/monitoring-stack';

const withField = (overrides: Partial<Record<keyof AlarmThresholds, unknown>>) =>
  ({ ...DEFAULT_ALARM_THRESHOLDS, ...overrides }) as AlarmThresholds;

describe('validateAlarmThresholds', () => {
  test('accepts the defaults', () => {
    expect(validateAlarmThresholds(DEFAULT_ALARM_THRESHOLDS)).toEqual([]);
  });

  test.each([
    ['api5xxRatePercent', 0, /a percentage above 0 and below 100/],
    ['api5xxRatePercent', 100, /a percentage above 0 and below 100/],
    ['inferenceErrorRatePercent', -1, /a percentage/],
    ['apiLatencyP99InMillis', 30_000, /below 30000 \(API Gateway's integration timeout\)/],
    ['apiLatencyP99InMillis', Number.NaN, /milliseconds/],
    ['sustainedPeriods', 1.5, /whole number of 5-minute periods from 1 to 288/],
    ['sustainedPeriods', 289, /at most 1 day for periods under 1 hour/],
    ['functionThrottlesCount', -1, /whole number of throttles >= 0/],
    ['pipelineExecutionFailuresCount', 0.5, /whole number of executions/],
    ['modelLoadFailuresCount', '1', /whole number of failures/],
    ['deadLetteredStartsCount', -1, /whole number of messages >= 0/],
    ['failedStartsCount', 1.5, /whole number of failed invocations >= 0/],
    ['retrainingMissedRuns', 0, /missed scheduled runs from 1 to 6/],
    ['retrainingMissedRuns', 7, /7-day alarm/],
  ] as const)('refuses %s = %p, naming the field, the value and what fits', (field, value, expected) => {
    const problems = validateAlarmThresholds(withField({ [field]: value }));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^thresholds\\.${field} must be `));
    expect(problems[0]).toMatch(expected);
    expect(problems[0]).toContain(`got ${String(value)}`);
  });

  test('reports every problem at once', () => {
    expect(validateAlarmThresholds(withField({ api5xxRatePercent: 0, sustainedPeriods: 0 }))).toHaveLength(2);
  });
});

describe('resolveAlarmThresholds', () => {
  test('applies overrides over the defaults, ignoring undefined ones', () => {
    expect(resolveAlarmThresholds({ api5xxRatePercent: 2, sustainedPeriods: undefined })).toEqual({
      ...DEFAULT_ALARM_THRESHOLDS,
      api5xxRatePercent: 2,
    });
  });

  test('throws with every problem when an override is invalid', () => {
    expect(() => resolveAlarmThresholds({ apiLatencyP99InMillis: -5, retrainingMissedRuns: 0 })).toThrow(
      /apiLatencyP99InMillis[\s\S]*retrainingMissedRuns/,
    );
  });
});

describe('retrainingStaleWindow', () => {
  test('is (missed runs + half an interval) of a rate schedule, in whole hours', () => {
    expect(retrainingStaleWindow('rate(1 day)', 2)).toEqual({ hours: 60 });
    expect(retrainingStaleWindow('rate(12 hours)', 3)).toEqual({ hours: 42 });
    expect(retrainingStaleWindow('rate(1 hour)', 1)).toEqual({ hours: 2 });
  });

  test('is skipped, with the reason, when CloudWatch cannot look back that far', () => {
    const window = retrainingStaleWindow('rate(7 days)', 2);
    expect(window).toEqual({ skipped: expect.stringContaining(`${MAX_ALARM_LOOKBACK_HOURS} h (7 days)`) });
  });

  test('is skipped for an upload-only model and for a cron schedule', () => {
    expect(retrainingStaleWindow(undefined, 2)).toEqual({
      skipped: expect.stringContaining('retrains on upload only'),
    });
    expect(retrainingStaleWindow('cron(0 3 ? * MON *)', 2)).toEqual({
      skipped: expect.stringContaining('not rate(N hours|days)'),
    });
  });
});

describe('platformAlarmCatalog', () => {
  test('describes every alarm id, with a first step and its runbook section', () => {
    const catalog = platformAlarmCatalog(DEFAULT_ALARM_THRESHOLDS);
    expect(catalog.map((a) => a.id)).toEqual([...ALARM_IDS]);
    for (const alarm of catalog)
      expect(alarm.description).toMatch(new RegExp(`First: .+ Runbook: docs/operations\\.md, section ${alarm.id}\\.$`));
    expect(catalog.filter((a) => a.scope === 'start rule').map((a) => a.id)).toEqual(['PipelineStartsFailed']);
    expect(catalog.find((a) => a.id === 'PipelineStartsFailed')?.description).toContain('{rule}');
    // CloudWatch's limit for AlarmDescription; per-model ones add a model name (at most 64 characters) twice.
    for (const alarm of catalog) expect(alarm.description.length).toBeLessThanOrEqual(1024 - 2 * 64);
  });

  test('states the thresholds it was built from', () => {
    const catalog = platformAlarmCatalog({ ...DEFAULT_ALARM_THRESHOLDS, api5xxRatePercent: 3, sustainedPeriods: 6 });
    expect(catalog.find((a) => a.id === 'Api5xxRate')?.description).toContain(
      'More than 3% of inference API requests got a 5xx in each of the last 6 5-minute periods',
    );
  });
});

describe('monitoredModelsProblems', () => {
  test('accepts the models as the specs describe them', () => {
    expect(
      monitoredModelsProblems(
        [
          { name: 'iris', gateMetric: 'macroF1', schedule: 'rate(7 days)' },
          { name: 'sentiment', gateMetric: 'accuracy' },
        ],
        'ops@example.com',
      ),
    ).toEqual([]);
  });

  test('names every problem: no models, a bad or repeated name, an unknown gate metric, a bad email', () => {
    expect(monitoredModelsProblems([])).toEqual([expect.stringContaining('models must list at least one model')]);
    expect(
      monitoredModelsProblems(
        [
          { name: 'Iris!', gateMetric: 'macroF1' },
          { name: 'Iris!', gateMetric: 'f1' },
        ],
        'ops',
      ),
    ).toEqual([
      expect.stringContaining('model name "Iris!" is not valid'),
      expect.stringContaining('model name "Iris!" is not valid'),
      expect.stringContaining('"Iris!" is listed twice'),
      expect.stringContaining('the gateMetric of "Iris!" must be one of macroF1, accuracy'),
      'alarmEmail must be an email address, got "ops"',
    ]);
  });
});
