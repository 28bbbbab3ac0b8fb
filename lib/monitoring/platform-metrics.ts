import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { INFERENCE_METRICS, METRICS_NAMESPACE, METRICS_SERVICES, PIPELINE_METRICS } from '../../core/contracts/metrics';
import { DataLoopMetrics, type MonitoredCapture, type MonitoredJob } from './data-loop-metrics';
import { RolloutMetrics } from './rollout-metrics';
import { customMetric } from './custom-metric';

/** The platform's two functions, as the factory's Lambda methods name them. */
export type PlatformFunction = 'inference' | 'pipeline';
/** The `outcome` dimension of RetrainingRuns (lambdas/pipeline/register.ts). */
export type RunOutcome = 'promoted' | 'canary' | 'rejected';

/**
 * What starts the retraining pipeline, as RetrainingPipeline exposes it (a RetrainingPipeline can
 * be passed as is): the EventBridge rules and the dead-letter queue of their targets.
 */
export interface MonitoredStarts {
  /** Where EventBridge puts the starts it could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The upload rule (objects created under incoming/). */
  readonly rule: events.IRule;
  /** The schedule rule of each model that has one, by model name. */
  readonly schedules: Readonly<Record<string, events.IRule>>;
}

/** One rule that starts the pipeline: `uploads`, or `schedule-<model>`. */
export interface StartRule {
  /** `uploads` or `schedule-<model>`: the suffix of its alarm's id. */
  readonly key: string;
  /** How descriptions and graphs name it: "the upload rule", "the schedule of iris". */
  readonly label: string;
  readonly rule: events.IRule;
}

/** What the rollout of canaries runs on: its state machine, and where starts it could not deliver go. */
export interface MonitoredRollout {
  readonly stateMachine: sfn.IStateMachine;
  readonly deadLetterQueue: sqs.IQueue;
}

export interface PlatformMetricsProps {
  /** The inference API's stage: API Gateway publishes per ApiId + Stage ($default). */
  readonly stage: apigw.IHttpStage;
  readonly inferenceFunction: lambda.IFunction;
  readonly pipelineFunction: lambda.IFunction;
  readonly stateMachine: sfn.IStateMachine;
  /** The pipeline's start rules and their dead-letter queue. */
  readonly starts: MonitoredStarts;
  /**
   * The canary rollout state machine and the dead-letter queue of its starts (ModelRollout).
   * @default - no rollout metrics
   */
  readonly rolloutMachine?: MonitoredRollout;
  /**
   * The drift monitoring job's function and dead-letter queue (MonitoringJob).
   * @default - no monitoring job metrics
   */
  readonly monitoringJob?: MonitoredJob;
  /**
   * The capture path's Firehose stream (InferenceCapture).
   * @default - no capture stream metrics
   */
  readonly capture?: MonitoredCapture;
  /**
   * The period of every metric that does not take its own.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

/**
 * A CloudWatch SEARCH over the Predictions series of every model, version and class (or of one
 * model): versions and class labels change with every promotion, so they cannot be listed at synth.
 * `="..."` is an exact match, so model "iris" does not also find "iris_v2".
 */
function predictionsSearchExpression(model?: string, period: Duration = Duration.minutes(5)): string {
  const filter = model === undefined ? '' : ` model="${model}"`;
  const schema = `{${METRICS_NAMESPACE},class,model,service,version}`;
  return `SEARCH('${schema} MetricName="${INFERENCE_METRICS.predictions}" service="${METRICS_SERVICES.inference}"${filter}', 'Sum', ${period.toSeconds()})`;
}

/**
 * Every metric the dashboard draws and the alarms watch, by name, with its unit in the name
 * (cdk-monitoring-constructs' metric factory). Custom metric names come from INFERENCE_METRICS and
 * PIPELINE_METRICS, never retyped; their dimensions are what the functions record plus `service`,
 * which Powertools adds to every EMF record.
 */
export class PlatformMetrics {
  readonly period: Duration;
  /** Canary vs champion and shadow metrics (rollout-metrics.ts), over the same period. */
  readonly rollout: RolloutMetrics;
  /** Capture, feedback, drift and live accuracy (data-loop-metrics.ts). */
  readonly dataLoop: DataLoopMetrics;

  constructor(private readonly props: PlatformMetricsProps) {
    this.period = props.period ?? Duration.minutes(5);
    this.rollout = new RolloutMetrics(this.period);
    this.dataLoop = new DataLoopMetrics({ job: props.monitoringJob, capture: props.capture, period: this.period });
  }

  // --- API (AWS/ApiGateway, ApiId + Stage) ---

  apiRequestsCount(): cloudwatch.IMetric {
    return this.props.stage.metricCount({ statistic: 'Sum', period: this.period, label: 'Requests' });
  }

  api4xxRatePercent(): cloudwatch.IMetric {
    return this.ratePercent(
      ['clientErrors', this.props.stage.metricClientError({ period: this.period })],
      ['requests', this.apiRequests()],
      '4xx %',
    );
  }

  api5xxRatePercent(): cloudwatch.IMetric {
    return this.ratePercent(
      ['serverErrors', this.props.stage.metricServerError({ period: this.period })],
      ['requests', this.apiRequests()],
      '5xx %',
    );
  }

  apiLatencyP50InMillis(): cloudwatch.IMetric {
    return this.props.stage.metricLatency({ statistic: 'p50', period: this.period, label: 'p50' });
  }

  apiLatencyP90InMillis(): cloudwatch.IMetric {
    return this.props.stage.metricLatency({ statistic: 'p90', period: this.period, label: 'p90' });
  }

  apiLatencyP99InMillis(): cloudwatch.IMetric {
    return this.props.stage.metricLatency({ statistic: 'p99', period: this.period, label: 'p99' });
  }

  /** The Lambda's share of the latency; the rest is API Gateway. */
  apiIntegrationLatencyP99InMillis(): cloudwatch.IMetric {
    return this.props.stage.metricIntegrationLatency({
      statistic: 'p99',
      period: this.period,
      label: 'integration p99',
    });
  }

  // --- Lambda (AWS/Lambda, FunctionName) ---

  functionDurationP50InMillis(fn: PlatformFunction): cloudwatch.IMetric {
    return this.fn(fn).metricDuration({ statistic: 'p50', period: this.period, label: `${fn} p50` });
  }

  functionDurationP99InMillis(fn: PlatformFunction): cloudwatch.IMetric {
    return this.fn(fn).metricDuration({ statistic: 'p99', period: this.period, label: `${fn} p99` });
  }

  functionErrorsCount(fn: PlatformFunction): cloudwatch.IMetric {
    return this.fn(fn).metricErrors({ statistic: 'Sum', period: this.period, label: `${fn} errors` });
  }

  functionErrorRatePercent(fn: PlatformFunction): cloudwatch.IMetric {
    const metric = this.fn(fn);
    const options = { statistic: 'Sum', period: this.period };
    return this.ratePercent(
      [`${fn}Errors`, metric.metricErrors(options)],
      [`${fn}Invocations`, metric.metricInvocations(options)],
      `${fn} error %`,
    );
  }

  functionThrottlesCount(fn: PlatformFunction): cloudwatch.IMetric {
    return this.fn(fn).metricThrottles({ statistic: 'Sum', period: this.period, label: `${fn} throttles` });
  }

  functionConcurrentExecutionsMax(fn: PlatformFunction): cloudwatch.IMetric {
    return this.fn(fn).metric('ConcurrentExecutions', {
      statistic: 'Maximum',
      period: this.period,
      label: `${fn} concurrency`,
    });
  }

  /** One per new inference execution environment (the app's ColdStart metric; dimension service only). */
  coldStartsCount(): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.coldStarts, {}, 'Sum', 'cold starts');
  }

  // --- Model (ServerlessMlops, service=inference) ---

  /** One line per version and class of a model: what the model answers, and how that shifts. */
  predictionsByVersionAndClassCount(model: string): cloudwatch.IMetric {
    return new cloudwatch.SearchExpression({
      expression: predictionsSearchExpression(model, this.period),
      label: "v${PROP('Dim.version')} ${PROP('Dim.class')}",
      period: this.period,
    });
  }

  /** All of a model's predictions (every version and class): a SUM over the SEARCH. */
  predictionsCount(model: string): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: `SUM(${predictionsSearchExpression(model, this.period)})`,
      usingMetrics: {},
      label: model,
      period: this.period,
    });
  }

  inferenceLatencyP50InMillis(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.inferenceLatency, { model }, 'p50', `${model} p50`);
  }

  inferenceLatencyP99InMillis(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.inferenceLatency, { model }, 'p99', `${model} p99`);
  }

  modelLoadTimeP99InMillis(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.modelLoadTime, { model }, 'p99', `${model} load p99`);
  }

  modelLoadFailuresCount(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.modelLoadFailures, { model }, 'Sum', `${model} load failures`);
  }

  bundledModelFallbacksCount(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.bundledModelFallbacks, { model }, 'Sum', `${model} bundled fallbacks`);
  }

  /** The highest version that answered in the period (a promotion shows as a step). */
  modelVersionInServiceMax(model: string): cloudwatch.IMetric {
    return this.inference(INFERENCE_METRICS.modelVersionInService, { model }, 'Maximum', model);
  }

  // --- Pipeline (AWS/States and ServerlessMlops, service=pipeline) ---

  executionsStartedCount(): cloudwatch.IMetric {
    return this.props.stateMachine.metricStarted({ statistic: 'Sum', period: this.period, label: 'started' });
  }

  executionsSucceededCount(): cloudwatch.IMetric {
    return this.props.stateMachine.metricSucceeded({ statistic: 'Sum', period: this.period, label: 'succeeded' });
  }

  executionsFailedCount(): cloudwatch.IMetric {
    return this.props.stateMachine.metricFailed({ statistic: 'Sum', period: this.period, label: 'failed' });
  }

  /** Executions that did not finish: failed + timed out + aborted. */
  executionsUnfinishedCount(): cloudwatch.IMetric {
    return this.unfinished(this.props.stateMachine, 'failed + timed out + aborted');
  }

  private unfinished(sm: sfn.IStateMachine, label: string): cloudwatch.IMetric {
    const options = { statistic: 'Sum', period: this.period };
    return new cloudwatch.MathExpression({
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: sm.metricFailed(options),
        timedOut: sm.metricTimedOut(options),
        aborted: sm.metricAborted(options),
      },
      label,
      period: this.period,
    });
  }

  /** Rollout executions that did not finish (failed + timed out + aborted); undefined without a rollout. */
  rolloutExecutionsUnfinishedCount(): cloudwatch.IMetric | undefined {
    const sm = this.props.rolloutMachine?.stateMachine;
    return sm && this.unfinished(sm, 'rollouts failed + timed out + aborted');
  }

  /** Rollout starts and alarm aborts EventBridge could not deliver; undefined without a rollout. */
  rolloutDeadLetteredMax(): cloudwatch.IMetric | undefined {
    return this.props.rolloutMachine?.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: this.period,
      label: 'rollout events in the dead-letter queue',
    });
  }

  executionTimeP50InMillis(): cloudwatch.IMetric {
    return this.props.stateMachine.metricTime({ statistic: 'p50', period: this.period, label: 'execution p50' });
  }

  executionTimeMaxInMillis(): cloudwatch.IMetric {
    return this.props.stateMachine.metricTime({ statistic: 'Maximum', period: this.period, label: 'execution max' });
  }

  retrainingDurationMaxInSeconds(model: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(PIPELINE_METRICS.runDuration, { model }, 'Maximum', model, period);
  }

  /** The best candidate's holdout score on the model's gate metric (e.g. macroF1). */
  candidateScore(model: string, gateMetric: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(
      PIPELINE_METRICS.candidateScore,
      { model, metric: gateMetric },
      'Maximum',
      `candidate ${gateMetric}`,
      period,
    );
  }

  /** The champion's score on the same holdout rows. */
  championScore(model: string, gateMetric: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(
      PIPELINE_METRICS.championScore,
      { model, metric: gateMetric },
      'Maximum',
      `champion ${gateMetric}`,
      period,
    );
  }

  promotionsCount(model: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(PIPELINE_METRICS.promoted, { model }, 'Sum', `${model} promoted`, period);
  }

  retrainingRunsCount(model: string, outcome: RunOutcome, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(PIPELINE_METRICS.runs, { model, outcome }, 'Sum', `${model} ${outcome}`, period);
  }

  /** Runs that reached the registry: promoted, rolling out as a canary, or not; no data and 0 both mean none. */
  finishedRunsCount(model: string, period: Duration = this.period): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: 'FILL(promoted, 0) + FILL(canary, 0) + FILL(rejected, 0)',
      usingMetrics: {
        promoted: this.retrainingRunsCount(model, 'promoted', period),
        canary: this.retrainingRunsCount(model, 'canary', period),
        rejected: this.retrainingRunsCount(model, 'rejected', period),
      },
      label: `${model} finished runs`,
      period,
    });
  }

  retrainingFailuresCount(model: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(PIPELINE_METRICS.runFailures, { model }, 'Sum', `${model} failed runs`, period);
  }

  quarantinedFilesCount(model: string, period?: Duration): cloudwatch.IMetric {
    return this.pipeline(PIPELINE_METRICS.quarantinedFiles, { model }, 'Sum', `${model} quarantined`, period);
  }

  /**
   * Quarantined uploads of every model, unknown ones included: a SUM over a SEARCH, because an
   * upload to a folder with no spec (or none at all) is counted under that folder's name (or
   * _unsorted), which is not known at synth. Graphs only: alarms cannot use SEARCH.
   */
  quarantinedFilesAllModelsCount(): cloudwatch.IMetric {
    const search = `SEARCH('{${METRICS_NAMESPACE},model,service} MetricName="${PIPELINE_METRICS.quarantinedFiles}" service="${METRICS_SERVICES.pipeline}"', 'Sum', ${this.period.toSeconds()})`;
    return new cloudwatch.MathExpression({
      expression: `SUM(${search})`,
      usingMetrics: {},
      label: 'quarantined uploads',
      period: this.period,
    });
  }

  // --- Pipeline starts (AWS/SQS, AWS/Events) ---

  /** The upload rule, then each schedule by model name. */
  startRules(): readonly StartRule[] {
    const { rule, schedules } = this.props.starts;
    return [
      { key: 'uploads', label: 'the upload rule', rule },
      ...Object.keys(schedules)
        .sort()
        .map((model) => ({ key: `schedule-${model}`, label: `the schedule of ${model}`, rule: schedules[model] })),
    ];
  }

  /** Starts waiting in the dead-letter queue: the highest count seen in the period. */
  deadLetteredStartsMax(): cloudwatch.IMetric {
    return this.props.starts.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: this.period,
      label: 'starts in the dead-letter queue',
    });
  }

  /** Starts EventBridge gave up on, for one rule (RuleName: the default event bus). */
  failedStartsCount(start: StartRule): cloudwatch.IMetric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { RuleName: start.rule.ruleName },
      statistic: 'Sum',
      period: this.period,
      label: `failed starts: ${start.key}`,
    });
  }

  // --- helpers ---

  private fn(which: PlatformFunction): lambda.IFunction {
    return which === 'inference' ? this.props.inferenceFunction : this.props.pipelineFunction;
  }

  private apiRequests(): cloudwatch.IMetric {
    return this.props.stage.metricCount({ statistic: 'Sum', period: this.period });
  }

  /**
   * 100 * part / total, 0 when there was no traffic (IF avoids dividing by zero). Each rate
   * names its own ids: the metrics of one graph share one id space.
   */
  private ratePercent(
    [partId, part]: [string, cloudwatch.IMetric],
    [totalId, total]: [string, cloudwatch.IMetric],
    label: string,
  ): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `IF(${totalId} > 0, 100 * FILL(${partId}, 0) / ${totalId}, 0)`,
      usingMetrics: { [partId]: part, [totalId]: total },
      label,
      period: this.period,
    });
  }

  private inference(
    metricName: string,
    dimensions: Record<string, string>,
    statistic: string,
    label: string,
  ): cloudwatch.Metric {
    return customMetric(METRICS_SERVICES.inference, metricName, dimensions, statistic, label, this.period);
  }

  private pipeline(
    metricName: string,
    dimensions: Record<string, string>,
    statistic: string,
    label: string,
    period?: Duration,
  ): cloudwatch.Metric {
    return customMetric(METRICS_SERVICES.pipeline, metricName, dimensions, statistic, label, period ?? this.period);
  }
}
