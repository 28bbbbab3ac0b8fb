import { ratePeriodMs, startSchedules } from '../../local/schedules';

describe('local schedules', () => {
  test('rate expressions become periods in milliseconds', () => {
    expect(ratePeriodMs('rate(1 minute)')).toBe(60_000);
    expect(ratePeriodMs('rate(5 minutes)')).toBe(300_000);
    expect(ratePeriodMs('rate(7 days)')).toBe(7 * 86_400_000);
    expect(ratePeriodMs('rate(2 hours)')).toBe(7_200_000);
  });

  test('cron, zero and malformed expressions have no local period', () => {
    expect(ratePeriodMs('cron(0 3 ? * MON *)')).toBeUndefined();
    expect(ratePeriodMs('rate(0 days)')).toBeUndefined();
    expect(ratePeriodMs('rate(1 week)')).toBeUndefined();
  });

  test('a rate schedule starts a run every period; cron and too-long ones are reported', () => {
    jest.useFakeTimers();
    const runs: string[] = [];
    const schedules = startSchedules(
      [
        { name: 'iris', schedule: 'rate(1 minute)' },
        { name: 'ai4i2020', schedule: 'cron(0 3 ? * MON *)' },
        { name: 'slow', schedule: 'rate(30 days)' },
        { name: 'none' },
      ],
      (model) => runs.push(model),
    );
    jest.advanceTimersByTime(150_000);
    schedules.stop();
    jest.advanceTimersByTime(600_000);
    jest.useRealTimers();
    expect(runs).toEqual(['iris', 'iris']);
    expect(schedules.notes).toEqual([
      expect.stringMatching(/^ai4i2020: schedule cron\(.*AWS only/),
      expect.stringMatching(/^slow: .*AWS only/),
    ]);
  });
});
