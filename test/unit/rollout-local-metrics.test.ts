import { CanaryAlarms, canaryAlarmEvent } from '../../local/rollout-alarms';
import { LocalVariantMetrics } from '../../local/rollout-metrics';
import { alarmModel, parseAlarmEvent } from '../../lambdas/rollout/alarm-abort';
import type { MetricRecord } from '../../lambdas/shared/metrics';

/**
 * The local platform's stand-ins for CloudWatch in a rollout: per-variant windows from the
 * inference app's metric records, and the canary rollback alarm evaluated on them.
 */

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const record = (name: string, dimensions: Record<string, string>, value = 1): MetricRecord => ({
  name,
  unit: 'Count',
  value,
  dimensions,
});

function request(
  metrics: LocalVariantMetrics,
  at: number,
  variant: 'champion' | 'canary',
  options: { latency?: number; label?: string; error?: boolean } = {},
) {
  const d = { model: 'iris', variant };
  metrics.record(record('VariantRequests', d), at);
  if (options.error) metrics.record(record('VariantServerErrors', d), at);
  else metrics.record(record('VariantPredictions', { ...d, class: options.label ?? 'setosa' }), at);
  metrics.record({ ...record('VariantLatency', d, options.latency ?? 5), unit: 'Milliseconds' }, at);
}

describe('LocalVariantMetrics', () => {
  test("sums each variant's requests, errors and classes in the window and takes the window's p99", async () => {
    const metrics = new LocalVariantMetrics({ clock: () => T0 });
    for (let i = 0; i < 100; i++)
      request(metrics, T0 + i * 10, 'champion', { latency: i + 1, label: i % 2 ? 'setosa' : 'virginica' });
    request(metrics, T0 + 500, 'canary', { error: true, latency: 40 });
    request(metrics, T0 + 500, 'canary', { latency: 7 });
    const window = await metrics.window('iris', new Date(T0), new Date(T0 + 2000));
    expect(window.champion).toEqual({
      requests: 100,
      serverErrors: 0,
      p99LatencyMs: 99,
      classCounts: { setosa: 50, virginica: 50 },
    });
    expect(window.canary).toEqual({ requests: 2, serverErrors: 1, p99LatencyMs: 40, classCounts: { setosa: 1 } });
  });

  test('a window starts at its second (like CloudWatch at its minute) and leaves out what came before', async () => {
    const metrics = new LocalVariantMetrics({ clock: () => T0 });
    request(metrics, T0 - 1, 'canary');
    request(metrics, T0 + 999, 'canary');
    request(metrics, T0 + 5000, 'canary');
    expect((await metrics.window('iris', new Date(T0 + 400), new Date(T0 + 3000))).canary.requests).toBe(1);
    expect((await metrics.window('iris', new Date(T0 + 400), new Date(T0 + 3000))).champion).toEqual({
      requests: 0,
      serverErrors: 0,
      p99LatencyMs: undefined,
      classCounts: {},
    });
  });

  test('ignores other metrics, records without a variant and other models', async () => {
    const metrics = new LocalVariantMetrics({ clock: () => T0 });
    metrics.record(record('Predictions', { model: 'iris', version: '1', class: 'setosa' }), T0);
    metrics.record(record('VariantRequests', { model: 'iris' }), T0);
    metrics.record(record('VariantRequests', { model: 'other', variant: 'canary' }), T0);
    expect((await metrics.window('iris', new Date(T0), new Date(T0 + 1000))).canary.requests).toBe(0);
    expect(metrics.models()).toEqual(['other']);
  });
});

describe('CanaryAlarms (local)', () => {
  test('goes to ALARM on the first canary server error, sends the state change once, and back to OK after a quiet period', async () => {
    let now = T0;
    const metrics = new LocalVariantMetrics({ clock: () => now });
    const sent: unknown[] = [];
    const alarms = new CanaryAlarms({
      metrics,
      models: ['iris'],
      onAlarm: async (event) => sent.push(event),
      periodSeconds: 60,
      evaluateEveryMs: 60_000,
      clock: () => now,
    });
    request(metrics, now, 'champion', { error: true });
    alarms.evaluate();
    expect(alarms.state('iris')).toBe('OK');

    request(metrics, now, 'canary', { error: true });
    alarms.evaluate();
    now += 1000;
    request(metrics, now, 'canary', { error: true });
    alarms.evaluate();
    expect(alarms.state('iris')).toBe('ALARM');
    expect(sent).toHaveLength(1);
    const event = parseAlarmEvent(sent[0]);
    expect(alarmModel(event)).toBe('iris');
    expect(event.detail).toMatchObject({
      alarmName: 'CanaryServerErrors-iris',
      state: {
        value: 'ALARM',
        reason: 'Threshold Crossed: 1 canary server error(s) in the last 60 s, greater than the threshold (0.0)',
      },
    });

    now += 61_000;
    alarms.evaluate();
    expect(alarms.state('iris')).toBe('OK');
    await alarms.close();
  });

  test('builds the event the deployed alarm sends, which the rollout function reads the model from', () => {
    const event = canaryAlarmEvent('sentiment', 'ALARM', 'x', new Date(T0));
    expect(event).toMatchObject({
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:CanaryServerErrors-sentiment'],
    });
    expect(alarmModel(parseAlarmEvent(event))).toBe('sentiment');
  });
});
