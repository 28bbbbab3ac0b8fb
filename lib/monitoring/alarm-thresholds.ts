/**
 * The numbers the platform's alarms compare against, as data: one place to read, justify, override
 * (MonitoringStackProps.thresholds) and validate. Rates are percentages, not counts, wherever
 * traffic varies: 10 errors is an outage at 20 requests and noise at 200,000.
 */
export interface AlarmThresholds {
  /**
   * Alarm when more than this percentage of API requests end in a 5xx, in each of
   * `sustainedPeriods` consecutive 5-minute periods.
   *
   * @default 1 - the handler answers bad input with a 4xx and turns its own errors into a JSON
   * 500 with an errorId, so a 5xx is a bug, a timeout, or a registry outage with no last good
   * model. A broken model or registry fails most requests and crosses 1% at once; isolated
   * cold-start timeouts stay far below it.
   */
  readonly api5xxRatePercent: number;
  /**
   * Alarm when the API's p99 latency (API Gateway's Latency, cold starts included) is above this
   * many milliseconds in each of `sustainedPeriods` consecutive 5-minute periods.
   *
   * @default 2000 - a warm prediction takes a few ms in the function (docs/benchmarks.md: p99
   * under 2 ms in-process; Lambda's 0.6 vCPU at 1024 MB and API Gateway add tens of ms), a cold
   * start about 0.5-1.5 s (init, champion fetch, sha256, ONNX session). At low traffic the p99
   * IS a cold start, so the threshold sits above one; it is still 5x below the function's 10 s
   * timeout, so a slow registry or an oversized model is caught well before requests fail.
   */
  readonly apiLatencyP99InMillis: number;
  /**
   * Alarm when more than this percentage of inference function invocations fail (Lambda's
   * Errors / Invocations), in each of `sustainedPeriods` consecutive 5-minute periods.
   *
   * @default 1 - the app catches its own errors and answers them, so Lambda only counts crashes,
   * timeouts and out-of-memory: a sustained rate means the function itself is broken. Same bar
   * as the API's 5xx rate, of which these errors are one cause.
   */
  readonly inferenceErrorRatePercent: number;
  /**
   * How many consecutive 5-minute periods the rate and latency alarms must all breach.
   *
   * @default 3 - 15 minutes rides out a deploy's burst of cold starts and single slow periods,
   * and still pages well within the hour.
   */
  readonly sustainedPeriods: number;
  /**
   * Alarm when either function is throttled more than this many times in 5 minutes.
   *
   * @default 0 (any) - the API's stage throttling (100 rps, burst 200) keeps the inference
   * function under the account's default 1000 concurrent executions, and the pipeline runs a
   * handful of steps at a time; a Lambda throttle therefore means a concurrency limit was
   * lowered or is shared, a configuration problem worth a look every time.
   */
  readonly functionThrottlesCount: number;
  /**
   * Alarm when more than this many pipeline executions fail, time out or are aborted in 5 minutes.
   *
   * @default 0 (any) - runs are few (schedules plus uploads) and every failed one is a retrain
   * that did not happen and left a failure.json to read.
   */
  readonly pipelineExecutionFailuresCount: number;
  /**
   * Alarm when the inference function refuses or cannot fetch a model version (per model) more
   * than this many times in 5 minutes.
   *
   * @default 0 (any) - the function keeps serving the last good version, so users see nothing
   * while the model in service silently stays old: only this alarm tells.
   */
  readonly modelLoadFailuresCount: number;
  /**
   * Alarm when a scheduled model has finished no retraining run (promoted, canary or rejected) for this
   * many schedule intervals, plus half an interval of slack for a slow or late run.
   *
   * @default 2 - one missed run can be a transient failure (the execution-failure alarm already
   * reports it); two in a row means retraining has stopped (schedule disabled, starts dead-lettered,
   * data never arriving). CloudWatch alarms look back at most 7 days, so a model gets this alarm
   * only when (missed runs + 0.5) x its interval fits in 7 days (see retrainingStaleWindow).
   */
  readonly retrainingMissedRuns: number;
  /**
   * Alarm when the pipeline's start dead-letter queue holds more than this many messages (the
   * highest ApproximateNumberOfMessagesVisible in 5 minutes).
   *
   * @default 0 (any) - each message is an upload or a scheduled run that EventBridge could not
   * start after 10 retries or 24 hours: a retrain that will not happen until someone redrives it,
   * and that nothing else reports (no execution exists to fail). They are kept 14 days.
   */
  readonly deadLetteredStartsCount: number;
  /**
   * Alarm when a start rule (the upload rule, or a model's schedule) has more than this many
   * failed invocations (AWS/Events FailedInvocations, per rule) in 5 minutes.
   *
   * @default 0 (any) - a failed invocation is a start EventBridge gave up on: dead-lettered if the
   * queue accepted it, lost if not (its policy or key refused it). Either way no run started.
   */
  readonly failedStartsCount: number;
  /**
   * Alarm when the drift monitoring job's function fails (AWS/Lambda Errors) more than this many
   * times in 5 minutes.
   *
   * @default 0 (any) - the job runs once per model per schedule tick (hourly by default) and its
   * S3 reads are retried by the SDK, so an error is a run that judged nothing: no drift, no live
   * accuracy, no drift retrain for that tick. Lambda retries the run twice, so one bad tick can
   * count up to 3 errors.
   */
  readonly monitoringErrorsCount: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  api5xxRatePercent: 1,
  apiLatencyP99InMillis: 2000,
  inferenceErrorRatePercent: 1,
  sustainedPeriods: 3,
  functionThrottlesCount: 0,
  pipelineExecutionFailuresCount: 0,
  modelLoadFailuresCount: 0,
  retrainingMissedRuns: 2,
  deadLetteredStartsCount: 0,
  failedStartsCount: 0,
  monitoringErrorsCount: 0,
};

/**
 * Alarm (CaptureDeliveryFailing) when the capture stream's oldest undelivered record is older than
 * this many seconds: twice its buffering interval plus 5 minutes (900 s at the default 300 s).
 *
 * Why DataFreshness and this line: with dynamic partitioning Firehose's own end-to-end delay may
 * reach 1.5x the buffering interval (multi-stage buffering, per its documentation), so a healthy
 * stream peaks near 450 s; 2x plus 5 minutes leaves room for that and a slow PUT, yet pages
 * within about 15 minutes of records getting stuck. Stuck is what loses data: Firehose keeps an
 * undeliverable record for 24 hours, and retries a failing error-output write forever, blocking
 * the stream. DeliveryToS3.Success < 1 was the alternative; it pages on one PUT that a retry then
 * delivered, and on records that went to capture-errors/ (which the monitoring job reads, so they
 * are not lost). An idle stream emits no DataFreshness, and no data is not a breach.
 */
export function captureDeliveryStaleSeconds(bufferingSeconds: number): number {
  return 2 * bufferingSeconds + 300;
}

/** An alarm's period times its evaluation periods may not exceed 1 day when the period is under 1 hour. */
const MAX_FIVE_MINUTE_PERIODS = 288;
/** ... and 7 days otherwise (PutMetricAlarm); the staleness alarm uses 1-hour periods. */
export const MAX_ALARM_LOOKBACK_HOURS = 168;
/** API Gateway HTTP APIs give up on an integration after 30 s, so no latency above it is measured. */
const MAX_API_LATENCY_MS = 30_000;

/**
 * Every problem with a set of thresholds, each naming the field, what it got and what fits;
 * empty when they are usable.
 */
export function validateAlarmThresholds(t: AlarmThresholds): string[] {
  const problems: string[] = [];
  const check = (field: keyof AlarmThresholds, ok: (v: number) => boolean, expected: string) => {
    const value = t[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value))
      problems.push(`thresholds.${field} must be ${expected}, got ${String(value)}`);
  };
  const percent = (v: number) => v > 0 && v < 100;
  const wholeFrom =
    (min: number, max = Number.MAX_SAFE_INTEGER) =>
    (v: number) =>
      Number.isInteger(v) && v >= min && v <= max;
  check('api5xxRatePercent', percent, 'a percentage above 0 and below 100 (e.g. 1 for 1%)');
  check('inferenceErrorRatePercent', percent, 'a percentage above 0 and below 100 (e.g. 1 for 1%)');
  check(
    'apiLatencyP99InMillis',
    (v) => v > 0 && v < MAX_API_LATENCY_MS,
    `milliseconds above 0 and below ${MAX_API_LATENCY_MS} (API Gateway's integration timeout)`,
  );
  check(
    'sustainedPeriods',
    wholeFrom(1, MAX_FIVE_MINUTE_PERIODS),
    `a whole number of 5-minute periods from 1 to ${MAX_FIVE_MINUTE_PERIODS} (CloudWatch: at most 1 day for periods under 1 hour)`,
  );
  check('functionThrottlesCount', wholeFrom(0), 'a whole number of throttles >= 0 (0 alarms on any)');
  check('pipelineExecutionFailuresCount', wholeFrom(0), 'a whole number of executions >= 0 (0 alarms on any)');
  check('modelLoadFailuresCount', wholeFrom(0), 'a whole number of failures >= 0 (0 alarms on any)');
  check('deadLetteredStartsCount', wholeFrom(0), 'a whole number of messages >= 0 (0 alarms on any)');
  check('failedStartsCount', wholeFrom(0), 'a whole number of failed invocations >= 0 (0 alarms on any)');
  check('monitoringErrorsCount', wholeFrom(0), 'a whole number of errors >= 0 (0 alarms on any)');
  check(
    'retrainingMissedRuns',
    wholeFrom(1, 6),
    'a whole number of missed scheduled runs from 1 to 6 (6.5 daily runs is the most a 7-day alarm covers)',
  );
  return problems;
}

/** The defaults overridden by every defined field of `overrides` (not validated). */
export function alarmThresholdsWithDefaults(overrides: Partial<AlarmThresholds> = {}): AlarmThresholds {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_ALARM_THRESHOLDS, ...defined };
}

/** Defaults overridden by `overrides`, validated; throws with every problem at once. */
export function resolveAlarmThresholds(overrides: Partial<AlarmThresholds> = {}): AlarmThresholds {
  const thresholds = alarmThresholdsWithDefaults(overrides);
  const problems = validateAlarmThresholds(thresholds);
  if (problems.length > 0) throw new Error(`Invalid alarm thresholds:\n- ${problems.join('\n- ')}`);
  return thresholds;
}

const HOURS: Readonly<Record<string, number>> = { hour: 1, hours: 1, day: 24, days: 24 };

/** Whether a model gets a staleness alarm, and over how many hours (1-hour periods). */
export type RetrainingStaleWindow = { readonly hours: number } | { readonly skipped: string };

/**
 * The staleness window for a model's schedule: (missedRuns + 0.5) intervals, in whole hours.
 * Only `rate(N hours|days)` schedules get one: an upload-only model is silent by design, a cron
 * expression's interval is not computed here, and a window over 7 days cannot be an alarm.
 *
 * How the alarm is built (PlatformAlarms), and why: PutMetricAlarm allows period x evaluation
 * periods of at most 7 days, or 1 day when the period is under 1 hour; SEARCH cannot be alarmed
 * on. So: per model, FILL(promoted, 0) + FILL(rejected, 0) of RetrainingRuns summed per HOUR,
 * `hours` evaluation periods that must ALL be below 1, missing data breaching (no run ever).
 * Hourly rather than daily sums: the newest period is still in progress, and with daily ones a
 * run due later today would look missed from midnight on.
 */
export function retrainingStaleWindow(schedule: string | undefined, missedRuns: number): RetrainingStaleWindow {
  if (schedule === undefined) return { skipped: 'no schedule: it retrains on upload only, so silence is normal' };
  const rate = /^rate\((\d+) (hours?|days?)\)$/.exec(schedule.trim());
  if (!rate)
    return { skipped: `schedule ${schedule} is not rate(N hours|days); only rate schedules have a known interval` };
  const hours = Math.ceil(Number(rate[1]) * HOURS[rate[2]] * (missedRuns + 0.5));
  if (hours > MAX_ALARM_LOOKBACK_HOURS) {
    return {
      skipped: `${missedRuns + 0.5} x ${schedule} is ${hours} h, beyond the ${MAX_ALARM_LOOKBACK_HOURS} h (7 days) a CloudWatch alarm can look back`,
    };
  }
  return { hours };
}
