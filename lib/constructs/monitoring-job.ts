import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  CAPTURE_ERRORS_PREFIX,
  CAPTURE_PREFIX,
  FEEDBACK_PREFIX,
  MONITORING_PREFIX,
  MONITORING_STATE_PREFIX,
} from '../../core/contracts/buckets';
import { scheduleProblem } from '../../core/pipeline/model-spec';
import { nameProblem } from '../../core/registry/keys';
import { METRICS_SERVICES } from '../../core/contracts/metrics';
import { PlatformFunction } from './platform-function';
import { copyModelSpecsCommand, MODEL_SPECS_PATH, modelSpecsFolder } from './retraining-pipeline';
import { deadLetterQueue } from './dead-letter-queue';
import { PROJECT_ROOT } from './project-root';

/** The monitoring job's handler: event `{ "model": "<name>" }`. */
export const MONITORING_ENTRY = join(PROJECT_ROOT, 'lambdas', 'monitoring', 'handler.ts');

export interface MonitoredSchedule {
  readonly name: string;
  /** An EventBridge schedule expression: the spec's monitoring.schedule (default rate(1 hour)). */
  readonly schedule: string;
}

export interface MonitoringJobProps {
  /** Captured records (capture/, and Firehose's error output capture-errors/) and feedback (feedback/) are read; reports (monitoring/) and the cool-down (monitoring-state/) written. */
  readonly dataBucket: s3.IBucket;
  /** The registry: each version's baseline (registry/, read only). */
  readonly modelBucket: s3.IBucket;
  /** The retraining pipeline, started with trigger `drift` (the only state machine the job may start). */
  readonly stateMachine: sfn.IStateMachine;
  /** The models to monitor, each on its own schedule. */
  readonly models: readonly MonitoredSchedule[];
  /**
   * Memory in MB (128..10240); a 24-hour window of captured JSON lines is parsed in it.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * @default Duration.minutes(5) - minutes of S3 reads and arithmetic per run at most; the
   * schedule is hourly by default, so a slow run still ends long before the next.
   */
  readonly timeout?: Duration;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The handler source file; for tests and alternative handlers.
   * @default - lambdas/monitoring/handler.ts
   */
  readonly entry?: string;
  /**
   * The folder of model specs copied into the function (MODEL_SPECS_DIR): window, minimum sample,
   * threshold, cool-down per model.
   * @default - config/models
   */
  readonly modelSpecsDir?: string;
}

const MONITORING_JOB_DEFAULTS = { memorySize: 1024, timeoutSeconds: 300 } as const;

/** Validates the props before anything is built; every problem at once, each with what was received. */
function monitoringJobSettings(props: MonitoringJobProps): {
  memorySize: number;
  timeout: Duration;
  modelSpecsDir: string;
} {
  const problems: string[] = [];
  const memorySize = props.memorySize ?? MONITORING_JOB_DEFAULTS.memorySize;
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)
    problems.push(`memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`);
  const timeout = props.timeout ?? Duration.seconds(MONITORING_JOB_DEFAULTS.timeoutSeconds);
  const seconds = timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 900)
    problems.push(`timeout must be whole seconds from 1 s to 15 minutes (Lambda's limit), got ${seconds} s`);
  if (props.models.length === 0) problems.push('models must list at least one model to monitor, got none');
  const seen = new Set<string>();
  for (const model of props.models) {
    const nameError = nameProblem('model', model.name);
    if (nameError) problems.push(`models: ${nameError}`);
    if (seen.has(model.name)) problems.push(`models: "${model.name}" is listed twice; list each model once`);
    seen.add(model.name);
    const scheduleError = scheduleProblem(model.schedule);
    if (scheduleError) problems.push(`models: the monitoring schedule of "${model.name}" ${scheduleError}`);
  }
  if (problems.length > 0) throw new Error(`MonitoringJob cannot be built:\n- ${problems.join('\n- ')}`);
  return { memorySize, timeout, modelSpecsDir: modelSpecsFolder(props.modelSpecsDir) };
}

/**
 * The production data loop's monitoring job: one function, run per model on the model's
 * monitoring schedule (an EventBridge rule whose input is `{ "model": "<name>" }`). It reads the
 * window's captured records and feedback, compares them with the champion's baseline, writes a
 * report under monitoring/<model>/, emits the drift and live-accuracy metrics (service
 * `monitoring`) and, on drift, starts the retraining state machine with trigger `drift` at most
 * once per cool-down (monitoring-state/<model>/).
 *
 * The function is invoked asynchronously (by the rules): Lambda retries a failed run twice, then
 * the event goes to the dead-letter queue, which also takes the events EventBridge could not deliver.
 */
export class MonitoringJob extends Construct {
  public readonly fn: PlatformFunction;
  /** One rule per model, by model name. */
  public readonly schedules: Readonly<Record<string, events.Rule>>;
  /** Runs that failed after Lambda's retries, and schedule events that could not be delivered; kept 14 days. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: MonitoringJobProps) {
    super(scope, id);
    const settings = monitoringJobSettings(props);

    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      'monitoring runs that failed after retries, schedule events that could not be delivered',
    );

    // No native module (it never loads a model: the captured answers are in the records), so the
    // default (cheaper) architecture; the specs are copied next to the bundle, as for the pipeline.
    this.fn = new PlatformFunction(this, 'Function', {
      entry: props.entry ?? MONITORING_ENTRY,
      purpose: 'monitoring function',
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      logRetention: props.logRetention,
      deadLetterQueue: this.deadLetterQueue,
      metricsService: METRICS_SERVICES.monitoring,
      environment: {
        DATA_BUCKET: props.dataBucket.bucketName,
        MODEL_BUCKET: props.modelBucket.bucketName,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        MODEL_SPECS_DIR: MODEL_SPECS_PATH,
      },
      afterBundling: (_inputDir, outputDir) => [copyModelSpecsCommand(settings.modelSpecsDir, outputDir)],
    });
    this.grantData(props.dataBucket, props.modelBucket);
    // states:StartExecution on the retraining state machine, and no other.
    props.stateMachine.grantStartExecution(this.fn);

    const delivery = { deadLetterQueue: this.deadLetterQueue, retryAttempts: 10, maxEventAge: Duration.hours(24) };
    const schedules: Record<string, events.Rule> = {};
    for (const model of props.models) {
      schedules[model.name] = new events.Rule(this, `Schedule-${model.name}`, {
        description: `Runs the drift monitoring of ${model.name} on ${model.schedule}`,
        schedule: events.Schedule.expression(model.schedule),
        targets: [
          new targets.LambdaFunction(this.fn, {
            event: events.RuleTargetInput.fromObject({ model: model.name }),
            ...delivery,
          }),
        ],
      });
    }
    this.schedules = schedules;
  }

  /**
   * Reads captured records (capture/, and capture-errors/, where Firehose puts records it could
   * not partition) and feedback; writes reports (never read back by the job) and its
   * cool-down claim (read, written conditionally, deleted again when the retrain it claimed could
   * not start: core/monitoring/drift-retrain.ts); reads baselines from the registry. It deletes
   * nothing else and writes nothing outside monitoring/ and monitoring-state/.
   */
  private grantData(dataBucket: s3.IBucket, modelBucket: s3.IBucket): void {
    for (const prefix of [CAPTURE_PREFIX, CAPTURE_ERRORS_PREFIX, FEEDBACK_PREFIX])
      this.fn.grantObjects(dataBucket, prefix, ['s3:GetObject']);
    this.fn.grantObjects(dataBucket, MONITORING_PREFIX, ['s3:PutObject']);
    this.fn.grantObjects(dataBucket, MONITORING_STATE_PREFIX, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']);
    // Listing also makes S3 answer 404, not 403, for a missing key (e.g. the first run's cool-down state).
    this.fn.grantList(dataBucket, [
      CAPTURE_PREFIX,
      CAPTURE_ERRORS_PREFIX,
      FEEDBACK_PREFIX,
      MONITORING_PREFIX,
      MONITORING_STATE_PREFIX,
    ]);
    this.fn.grantReadModels(modelBucket);
  }
}
