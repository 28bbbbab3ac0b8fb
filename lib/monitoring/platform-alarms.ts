import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type AlarmThresholds, captureDeliveryStaleSeconds, retrainingStaleWindow } from './alarm-thresholds';
import type { PlatformMetrics, StartRule } from './platform-metrics';

/** A model the platform serves and retrains, as its spec (config/models/*.json) describes it. */
export interface MonitoredModel {
  /** The model's name (spec `name`). */
  readonly name: string;
  /** The spec's `gate.metric` (e.g. macroF1): the `metric` dimension of CandidateScore and ChampionScore. */
  readonly gateMetric: string;
  /**
   * The spec's `schedule`; a `rate(...)` schedule short enough for CloudWatch gets a staleness alarm.
   * @default - none: the model retrains on upload only and gets no staleness alarm
   */
  readonly schedule?: string;
  /**
   * The model's drift monitoring (its spec's monitoring settings; given when capture is on).
   * @default - not monitored: no DriftDetected or LiveAccuracyLow alarm and no data-loop graphs
   */
  readonly monitoring?: MonitoredModelDrift;
}

export interface MonitoredModelDrift {
  /** The spec's monitoring.driftThreshold: a feature PSI at or above it is drift. */
  readonly driftThreshold: number;
  /**
   * The spec's monitoring.liveAccuracyFloor (0..1).
   * @default - no LiveAccuracyLow alarm
   */
  readonly liveAccuracyFloor?: number;
}

/**
 * The stable ids of the platform's alarms: construct ids (changing one replaces the alarm) and the
 * headings of their runbook sections in docs/operations.md. Per-model alarms are `<id>-<model>`.
 */
export const ALARM_IDS = [
  'Api5xxRate',
  'ApiLatencyP99',
  'InferenceErrorRate',
  'InferenceThrottles',
  'PipelineThrottles',
  'PipelineExecutionsFailed',
  'PipelineStartsDeadLettered',
  'PipelineStartsFailed',
  'RolloutExecutionsFailed',
  'RolloutEventsDeadLettered',
  'MonitoringErrors',
  'MonitoringEventsDeadLettered',
  'CaptureDeliveryFailing',
  'ModelLoadFailures',
  'RetrainingStale',
  'DriftDetected',
  'LiveAccuracyLow',
] as const;
export type AlarmId = (typeof ALARM_IDS)[number];

/**
 * How many of an alarm there are: one for the platform, one per model (`<id>-<model>`), or one per
 * rule that starts the pipeline (`<id>-uploads`, `<id>-schedule-<model>`).
 */
export type AlarmScope = 'platform' | 'model' | 'start rule';

export interface PlatformAlarmInfo {
  readonly id: AlarmId;
  readonly scope: AlarmScope;
  /**
   * What it means and what to do first; `{model}` stands for the model's name, `{hours}` for its
   * window, `{rule}` for the start rule ("the upload rule", "the schedule of iris"), `{threshold}`
   * for a per-model threshold (from the model's spec).
   */
  readonly description: string;
}

const runbook = (id: AlarmId) => ` Runbook: docs/operations.md, section ${id}.`;

/** Every alarm the platform can create, with its description: what the doc must cover. */
export function platformAlarmCatalog(t: AlarmThresholds): readonly PlatformAlarmInfo[] {
  const sustained = `in each of the last ${t.sustainedPeriods} 5-minute periods`;
  const info = (id: AlarmId, scope: AlarmScope, description: string): PlatformAlarmInfo => ({
    id,
    scope,
    description: description + runbook(id),
  });
  return [
    info(
      'Api5xxRate',
      'platform',
      `More than ${t.api5xxRatePercent}% of inference API requests got a 5xx ${sustained}: users are getting errors. First: on the dashboard, check the Lambda row (errors, throttles) and the Model row (load failures); then search the inference function's logs for "unhandled error" and the errorId from a 500 body.`,
    ),
    info(
      'ApiLatencyP99',
      'platform',
      `The inference API's p99 latency was above ${t.apiLatencyP99InMillis} ms ${sustained}. First: compare API latency with integration latency on the dashboard; if the function is slow, look at cold starts and model load time (a large new champion, a slow registry); if only API Gateway is slow, check the AWS Health Dashboard.`,
    ),
    info(
      'InferenceErrorRate',
      'platform',
      `More than ${t.inferenceErrorRatePercent}% of inference function invocations crashed, timed out or ran out of memory ${sustained} (the app answers its own errors, so these are the function failing). First: search its logs for "Task timed out" or "Runtime exited"; if it began with a promotion, roll back with npm run registry -- rollback <model>.`,
    ),
    info(
      'InferenceThrottles',
      'platform',
      `Lambda throttled the inference function more than ${t.functionThrottlesCount} times in 5 minutes: requests were refused with 5xx. First: check the account's concurrent executions and any reserved concurrency on the function; the API's own throttling should keep it far below the limit.`,
    ),
    info(
      'PipelineThrottles',
      'platform',
      `Lambda throttled the retraining pipeline's function more than ${t.functionThrottlesCount} times in 5 minutes; throttled steps retry for up to about 5 minutes, so runs slow down, and fail past that. First: check the account's concurrent executions (another workload may be using them all) against platform.pipeline.maxConcurrency candidates per run.`,
    ),
    info(
      'PipelineExecutionsFailed',
      'platform',
      `More than ${t.pipelineExecutionFailuresCount} retraining executions failed, timed out or were aborted in 5 minutes: a retrain did not happen. First: open the failed execution in the Step Functions console and read runs/<model>/<run>/failure.json in the model bucket (npm run registry -- runs <model>). Quarantined uploads do not count here: their executions end in the Succeed state Quarantined.`,
    ),
    info(
      'PipelineStartsDeadLettered',
      'platform',
      `More than ${t.deadLetteredStartsCount} retraining starts are waiting in the pipeline's start dead-letter queue: uploads or scheduled runs EventBridge could not start (after 10 retries or 24 hours); no execution exists for them. First: read the messages (aws sqs receive-message) for the error (ERROR_CODE, ERROR_MESSAGE attributes), fix it (state machine deleted or renamed, role refused), then start the runs again and delete the messages. Messages are kept 14 days.`,
    ),
    info(
      'PipelineStartsFailed',
      'start rule',
      `EventBridge gave up on more than ${t.failedStartsCount} starts of the retraining pipeline by {rule} in 5 minutes (FailedInvocations): those uploads or scheduled runs did not start. First: check the start dead-letter queue (PipelineStartsDeadLettered); a start missing from it was lost (the queue refused it), so start that run by hand.`,
    ),
    info(
      'RolloutExecutionsFailed',
      'platform',
      `More than ${t.pipelineExecutionFailuresCount} canary rollout executions failed, timed out or were aborted in 5 minutes: a rollout broke (a broken execution takes its canary out, fail closed, so no canary is left unjudged). First: read registry/<model>/rollout-runs/<rolloutId>/failure.json in the model bucket and the execution's error; npm run registry -- canary status <model> shows where the model stands.`,
    ),
    info(
      'RolloutEventsDeadLettered',
      'platform',
      `More than ${t.deadLetteredStartsCount} rollout events wait in the rollout's dead-letter queue: a rollout request EventBridge could not start (its canary serves at its first weight with nothing judging it) or a canary alarm abort it could not deliver. First: read the messages (aws sqs receive-message); abort or restart the canary named there by hand (npm run registry -- canary abort <model>), then delete the messages.`,
    ),
    info(
      'MonitoringErrors',
      'platform',
      `The drift monitoring job failed more than ${t.monitoringErrorsCount} times in 5 minutes (Lambda retries a failed run twice, then its event goes to the job's dead-letter queue): that run judged no drift or live accuracy and could start no drift retrain. First: search the monitoring function's logs for the error (a baseline missing from the champion's manifest, a denied S3 read, a timeout over a large window).`,
    ),
    info(
      'MonitoringEventsDeadLettered',
      'platform',
      `More than ${t.deadLetteredStartsCount} monitoring runs wait in the monitoring job's dead-letter queue: runs that failed after Lambda's retries, or schedule events EventBridge could not deliver. First: read the messages (aws sqs receive-message) for the model and the error, fix it, run the job again (npm run registry -- drift <model> --now), then delete the messages. Messages are kept 14 days.`,
    ),
    info(
      'CaptureDeliveryFailing',
      'platform',
      `The capture stream (Firehose) holds a record it has not written to S3 for more than {threshold} s (twice its buffering interval plus 5 minutes): captured requests are not reaching capture/ or capture-errors/, and Firehose drops what it cannot deliver within 24 hours. First: read the stream's error log group (CaptureDeliveryErrors) for the S3 error (access denied, a bucket policy or key change), fix it, and check that capture/<model>/ gets new objects again.`,
    ),
    info(
      'ModelLoadFailures',
      'model',
      `The inference function refused or could not fetch a version of {model} more than ${t.modelLoadFailuresCount} times in 5 minutes (checksum mismatch, unloadable ONNX, registry unreachable). It keeps serving the last good version, so the model in service is older than the champion. First: search the function's logs for the model; if the champion is bad, roll back with npm run registry -- rollback {model}.`,
    ),
    info(
      'RetrainingStale',
      'model',
      `No retraining run of {model} finished (promoted, canary or rejected) in the last {hours} hours, ${t.retrainingMissedRuns + 0.5} of its schedule's intervals: scheduled retraining has stopped. First: check the schedule rule is enabled, the pipeline's start dead-letter queue, and recent executions for {model}.`,
    ),
    info(
      'DriftDetected',
      'model',
      `The last drift monitoring run of {model} found a feature whose PSI reached {threshold} (the spec's monitoring.driftThreshold): live inputs no longer look like the training data. A drift retrain starts unless the spec turns retrainOnDrift off or a cool-down is running. First: npm run registry -- drift {model} shows which feature drifted and by how much; check the data source upstream before trusting a model retrained on it.`,
    ),
    info(
      'LiveAccuracyLow',
      'model',
      `The champion of {model} was right on less than {threshold} of the labelled requests in the last monitoring window (feedback joined to captured answers; the spec's monitoring.liveAccuracyFloor). First: npm run registry -- drift {model} for how many labels the window had (a handful makes a noisy number) and the accuracy per version; if the labels are sound, retrain on fresh data or roll back with npm run registry -- rollback {model}.`,
    ),
  ];
}

export interface PlatformAlarmsProps {
  readonly metrics: PlatformMetrics;
  readonly models: readonly MonitoredModel[];
  readonly thresholds: AlarmThresholds;
  /** Where every alarm (and, for sustained conditions, its recovery) is sent. */
  readonly topic: sns.ITopic;
}

interface AlarmSpec {
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly below?: boolean;
  /** Breach at the threshold too (>=), not only above it. */
  readonly orEqual?: boolean;
  readonly periods?: number;
  readonly missingBreaches?: boolean;
  /** Send OK too: worth it for sustained conditions; a one-off event clears by itself 5 minutes later. */
  readonly notifyRecovery?: boolean;
}

function comparison(spec: AlarmSpec): cloudwatch.ComparisonOperator {
  if (spec.below)
    return spec.orEqual
      ? cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD
      : cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;
  return spec.orEqual
    ? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
}

/** The platform's alarms, built from thresholds; every one notifies the topic. */
export class PlatformAlarms extends Construct {
  /** Every alarm, by construct id (`Api5xxRate`, `ModelLoadFailures-iris`, ...). */
  readonly byId: Readonly<Record<string, cloudwatch.Alarm>>;
  readonly alarms: readonly cloudwatch.Alarm[];
  /** What each created alarm says: for checking the runbook (docs/operations.md) covers them. */
  readonly descriptions: readonly { readonly id: string; readonly description: string }[];
  /** Models that got no RetrainingStale alarm, and why. */
  readonly staleAlarmSkipped: readonly { readonly model: string; readonly reason: string }[];

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    const { metrics: m, thresholds: t } = props;
    const catalog = new Map(platformAlarmCatalog(t).map((i) => [i.id, i.description]));
    const byId: Record<string, cloudwatch.Alarm> = {};
    const described: { id: string; description: string }[] = [];
    /** `subject`: the model, or the start rule, an alarm of a per-model or per-rule kind is about. */
    const add = (
      alarmId: AlarmId,
      spec: AlarmSpec,
      subject?: { readonly model: string } | { readonly rule: StartRule },
    ) => {
      const model = subject && 'model' in subject ? subject.model : undefined;
      const rule = subject && 'rule' in subject ? subject.rule : undefined;
      const constructId =
        model !== undefined ? `${alarmId}-${model}` : rule !== undefined ? `${alarmId}-${rule.key}` : alarmId;
      const periods = spec.periods ?? 1;
      const description = (catalog.get(alarmId) ?? '')
        .replace(/\{model\}/g, model ?? '')
        .replace(/\{hours\}/g, String(periods))
        .replace(/\{rule\}/g, rule?.label ?? '')
        .replace(/\{threshold\}/g, String(spec.threshold));
      const alarm = new cloudwatch.Alarm(this, constructId, {
        metric: spec.metric,
        threshold: spec.threshold,
        comparisonOperator: comparison(spec),
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: spec.missingBreaches
          ? cloudwatch.TreatMissingData.BREACHING
          : cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      const action = new actions.SnsAction(props.topic);
      alarm.addAlarmAction(action);
      if (spec.notifyRecovery) alarm.addOkAction(action);
      byId[constructId] = alarm;
      described.push({ id: constructId, description });
    };

    const sustained = { periods: t.sustainedPeriods, notifyRecovery: true };
    add('Api5xxRate', { metric: m.api5xxRatePercent(), threshold: t.api5xxRatePercent, ...sustained });
    add('ApiLatencyP99', { metric: m.apiLatencyP99InMillis(), threshold: t.apiLatencyP99InMillis, ...sustained });
    // Only the inference function's error RATE: the pipeline's function errors are retried by
    // the state machine, and the ones that matter end as PipelineExecutionsFailed.
    add('InferenceErrorRate', {
      metric: m.functionErrorRatePercent('inference'),
      threshold: t.inferenceErrorRatePercent,
      ...sustained,
    });
    add('InferenceThrottles', { metric: m.functionThrottlesCount('inference'), threshold: t.functionThrottlesCount });
    add('PipelineThrottles', { metric: m.functionThrottlesCount('pipeline'), threshold: t.functionThrottlesCount });
    // Broken runs only: a quarantined upload ends its execution in the Succeed state Quarantined.
    add('PipelineExecutionsFailed', {
      metric: m.executionsUnfinishedCount(),
      threshold: t.pipelineExecutionFailuresCount,
    });
    // Lost starts: nothing else reports them, since no execution exists to fail. The queue stays
    // non-empty until someone redrives or deletes its messages, so its recovery is sent too.
    add('PipelineStartsDeadLettered', {
      metric: m.deadLetteredStartsMax(),
      threshold: t.deadLetteredStartsCount,
      notifyRecovery: true,
    });
    for (const rule of m.startRules())
      add('PipelineStartsFailed', { metric: m.failedStartsCount(rule), threshold: t.failedStartsCount }, { rule });
    const rolloutFailures = m.rolloutExecutionsUnfinishedCount();
    if (rolloutFailures)
      add('RolloutExecutionsFailed', { metric: rolloutFailures, threshold: t.pipelineExecutionFailuresCount });
    const rolloutDeadLettered = m.rolloutDeadLetteredMax();
    if (rolloutDeadLettered)
      add('RolloutEventsDeadLettered', {
        metric: rolloutDeadLettered,
        threshold: t.deadLetteredStartsCount,
        notifyRecovery: true,
      });

    // The drift monitoring job: a failed run judged nothing, and nothing else reports it.
    const monitoringErrors = m.dataLoop.monitoringErrorsCount();
    if (monitoringErrors) add('MonitoringErrors', { metric: monitoringErrors, threshold: t.monitoringErrorsCount });
    const monitoringDeadLettered = m.dataLoop.monitoringDeadLetteredMax();
    if (monitoringDeadLettered)
      add('MonitoringEventsDeadLettered', {
        metric: monitoringDeadLettered,
        threshold: t.deadLetteredStartsCount,
        notifyRecovery: true,
      });
    // The capture stream: records stuck in Firehose are what is lost (captureDeliveryStaleSeconds says why this metric).
    // Records it sends to capture-errors/ instead are delivered, and read by the job.
    const freshness = m.dataLoop.captureDataFreshnessMaxInSeconds();
    const buffering = m.dataLoop.captureBufferingSeconds();
    if (freshness && buffering !== undefined)
      add('CaptureDeliveryFailing', {
        metric: freshness,
        threshold: captureDeliveryStaleSeconds(buffering),
        notifyRecovery: true,
      });

    const skipped: { model: string; reason: string }[] = [];
    for (const model of props.models) {
      add(
        'ModelLoadFailures',
        { metric: m.modelLoadFailuresCount(model.name), threshold: t.modelLoadFailuresCount },
        { model: model.name },
      );
      if (model.monitoring) {
        // One value per monitoring run (1-hour periods); a run that could not judge (too few
        // records, no baseline) emits nothing, and no data is not a breach.
        const { driftThreshold, liveAccuracyFloor } = model.monitoring;
        add(
          'DriftDetected',
          { metric: m.dataLoop.maxFeatureDriftMax(model.name), threshold: driftThreshold, orEqual: true },
          { model: model.name },
        );
        if (liveAccuracyFloor !== undefined)
          add(
            'LiveAccuracyLow',
            { metric: m.dataLoop.liveAccuracyMin(model.name), threshold: liveAccuracyFloor, below: true },
            { model: model.name },
          );
      }
      const window = retrainingStaleWindow(model.schedule, t.retrainingMissedRuns);
      if ('skipped' in window) {
        skipped.push({ model: model.name, reason: window.skipped });
        Annotations.of(this).addInfo(`No RetrainingStale alarm for ${model.name}: ${window.skipped}`);
        continue;
      }
      // Hourly sums, all below 1 for the whole window; missing data (no run ever) breaches too.
      // 1-hour periods allow a 7-day window (under 1 hour, CloudWatch allows only 1 day).
      const hourly = m.finishedRunsCount(model.name, Duration.hours(1));
      add(
        'RetrainingStale',
        {
          metric: hourly,
          threshold: 1,
          below: true,
          periods: window.hours,
          missingBreaches: true,
          notifyRecovery: true,
        },
        { model: model.name },
      );
    }
    this.byId = byId;
    this.alarms = Object.values(byId);
    this.staleAlarmSkipped = skipped;
    this.descriptions = described;
  }
}
