import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration, Size } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { copyFolderCommand } from './bundling-hooks';
import { acknowledgeResourceWildcards } from './least-privilege';
import { PlatformFunction, type PlatformFunctionOptions } from './platform-function';
import {
  DEFAULT_TRAINING_MAX_CONCURRENCY,
  MAX_TRAINING_MAX_CONCURRENCY,
  retrainingDefinition,
} from './retraining-definition';
import {
  CLAIMS_PREFIX,
  INCOMING_PREFIX,
  PROCESSED_PREFIX,
  QUARANTINE_PREFIX,
  REGISTRY_PREFIX,
  RUNS_PREFIX,
} from '../../core/contracts/buckets';
import { METRICS_SERVICES } from '../../core/contracts/metrics';
import { scheduleProblem } from '../../core/pipeline/model-spec';
import { scratchSpaceMb } from '../../core/pipeline/training-capacity';
import { nameProblem } from '../../core/registry/keys';
import { deadLetterQueue } from './dead-letter-queue';
import { PROJECT_ROOT } from './project-root';
import { ManagedTraining, type ManagedTrainingProps } from './managed-training';

/** The pipeline's one function: it dispatches on `step` (core/pipeline/contract.ts). */
const PIPELINE_ENTRY = join(PROJECT_ROOT, 'lambdas', 'pipeline', 'handler.ts');
/** Where the model specs are read from at synth, and where the function finds them. */
const MODEL_SPECS_SOURCE = join(PROJECT_ROOT, 'config', 'models');
export const MODEL_SPECS_PATH = '/var/task/model-specs';

export interface RetrainingModel {
  readonly name: string;
  /** An EventBridge schedule expression, "rate(..)" or "cron(..)" (from the model's spec). */
  readonly schedule?: string;
}

export interface RetrainingPipelineProps extends Pick<
  PlatformFunctionOptions,
  'memorySize' | 'timeout' | 'logRetention'
> {
  /** Uploads land in incoming/; the pipeline writes processed/ and quarantine/. Needs EventBridge notifications on. */
  readonly dataBucket: s3.IBucket;
  /** The registry (registry/*) and run artefacts (runs/*). */
  readonly modelBucket: s3.IBucket;
  /** The models (from config/models); each with a schedule also retrains on it. */
  readonly models: readonly RetrainingModel[];
  /**
   * Function memory in MB (128..10240); training runs in it, and Lambda scales CPU with memory.
   * @default 3008
   */
  readonly memorySize?: number;
  /**
   * Per-step time limit, at most 15 minutes (Lambda's limit).
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * How many candidates (algorithms) one run trains at once: MaxConcurrency of the TrainCandidates
   * Map, from 1 to 40 (Step Functions runs at most 40 inline Map iterations at once). Each one is
   * a concurrent execution of the function, so keep it within the account's Lambda concurrency;
   * invocations beyond it are throttled and retried for minutes (retraining-definition.ts).
   * @default 5 - a new account's low concurrency quota fits one run's Map twice over (see DEFAULT_TRAINING_MAX_CONCURRENCY)
   */
  readonly maxConcurrency?: number;
  /**
   * Creates failed / throttled / aborted / timed-out execution alarms, and one on starts in the
   * dead-letter queue, sending to this topic
   * (for the construct used on its own; the platform's MonitoringStack watches the state machine).
   * @default - no execution alarms
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * How long the function's and the state machine's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The handler source file; for tests and alternative handlers.
   * @default - lambdas/pipeline/handler.ts
   */
  readonly entry?: string;
  /**
   * The folder of model specs copied into the function (MODEL_SPECS_DIR).
   * @default - config/models
   */
  readonly modelSpecsDir?: string;
  /**
   * The managed training engine (an ECS Fargate task per candidate) for data beyond one function,
   * or false for Lambda only (Prepare then refuses such data). Its size and timeout, see ManagedTrainingProps.
   * @default - on, with MANAGED_TRAINING_DEFAULTS (2 vCPU, 16 GiB, 4 hours per candidate)
   */
  readonly managedTraining?: Pick<ManagedTrainingProps, 'cpu' | 'memoryMiB' | 'timeout' | 'vpc'> | false;
}

export interface RetrainingSettings {
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly maxConcurrency: number;
  readonly models: readonly RetrainingModel[];
  readonly modelSpecsDir: string;
}

const RETRAINING_DEFAULTS = {
  memorySize: 3008,
  timeoutMinutes: 15,
  maxConcurrency: DEFAULT_TRAINING_MAX_CONCURRENCY,
} as const;

/** Validates the props before anything is built; errors say what was received and what fits. */
export function retrainingSettings(props: RetrainingPipelineProps): RetrainingSettings {
  const memorySize = props.memorySize ?? RETRAINING_DEFAULTS.memorySize;
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
    throw new Error(`memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`);
  }
  const timeout = props.timeout ?? Duration.minutes(RETRAINING_DEFAULTS.timeoutMinutes);
  const seconds = timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 900) {
    throw new Error(`timeout must be whole seconds from 1 s to 15 minutes (Lambda's limit), got ${seconds} s`);
  }
  const maxConcurrency = props.maxConcurrency ?? RETRAINING_DEFAULTS.maxConcurrency;
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_TRAINING_MAX_CONCURRENCY) {
    throw new Error(
      `maxConcurrency must be a whole number of candidates trained at once from 1 to ${MAX_TRAINING_MAX_CONCURRENCY} (Step Functions runs at most ${MAX_TRAINING_MAX_CONCURRENCY} inline Map iterations at once), got ${maxConcurrency}`,
    );
  }
  if (props.models.length === 0) {
    throw new Error('models must list at least one model (one per config/models/*.json spec), got none');
  }
  const seen = new Set<string>();
  for (const model of props.models) {
    const problem = nameProblem('model', model.name);
    if (problem) throw new Error(`models: ${problem}`);
    if (seen.has(model.name)) throw new Error(`models: "${model.name}" is listed twice; list each model once`);
    seen.add(model.name);
    const scheduleError = model.schedule === undefined ? undefined : scheduleProblem(model.schedule);
    if (scheduleError) throw new Error(`models: the schedule of "${model.name}" ${scheduleError}`);
  }
  return {
    memorySize,
    timeout,
    maxConcurrency,
    models: props.models,
    modelSpecsDir: modelSpecsFolder(props.modelSpecsDir),
  };
}

/** The folder of model specs a function bundles (config/models by default); fails at synth if it is missing. */
export function modelSpecsFolder(dir: string = MODEL_SPECS_SOURCE): string {
  const absolute = resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory())
    throw new Error(`modelSpecsDir must be an existing folder of model specs, got ${dir}`);
  return absolute;
}

/** The bundling command that copies the model specs next to a function's bundle (to MODEL_SPECS_PATH). */
export function copyModelSpecsCommand(modelSpecsDir: string, outputDir: string): string {
  return copyFolderCommand(modelSpecsDir, join(outputDir, 'model-specs'));
}

/**
 * The retraining pipeline: one Lambda running every step, a Standard state machine
 * (core/pipeline/contract.ts), an SNS topic for its notices, an EventBridge rule on uploads
 * under incoming/, one schedule per model that has one, and execution alarms.
 *
 * Duplicate S3 events: an EventBridge StartExecution target cannot set the execution name, so
 * Step Functions' name-based dedupe does not apply here. A repeated event for the same object
 * is made harmless by the validate step instead: its processed key includes the upload's ETag,
 * so a second run of one upload finds its work done. Where a name-deduped start is wanted, the
 * path is EventBridge -> SQS -> a starter function that names executions from bucket/key/etag.
 *
 * The function gets no DLQ or failure destination: Step Functions invokes it synchronously and
 * handles its errors (Retry/Catch). The rule and schedule targets are asynchronous, so they
 * get a DLQ.
 */
export class RetrainingPipeline extends Construct {
  public readonly fn: PlatformFunction;
  public readonly stateMachine: sfn.StateMachine;
  /** Quarantine, success and failure notices of every run. */
  public readonly topic: sns.Topic;
  /** Starts a run for every object created under incoming/. */
  public readonly rule: events.Rule;
  /**
   * Where EventBridge puts starts it could not deliver (after 10 retries or 24 hours), kept 14
   * days; the platform alarms on its depth (PipelineStartsDeadLettered).
   */
  public readonly deadLetterQueue: sqs.Queue;
  /** One rule per model with a schedule, by model name; the platform alarms on their FailedInvocations. */
  public readonly schedules: Readonly<Record<string, events.Rule>>;
  public readonly alarms: readonly cloudwatch.Alarm[];
  /** The managed training engine, unless managedTraining is false. */
  public readonly managedTraining?: ManagedTraining;

  constructor(scope: Construct, id: string, props: RetrainingPipelineProps) {
    super(scope, id);
    const settings = retrainingSettings(props);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    const managed =
      props.managedTraining === false
        ? undefined
        : new ManagedTraining(this, 'ManagedTraining', {
            ...props.managedTraining,
            dataBucket: props.dataBucket,
            modelBucket: props.modelBucket,
            logRetention: retention,
          });
    this.managedTraining = managed;
    const fn = new PlatformFunction(this, 'Function', {
      entry: props.entry ?? PIPELINE_ENTRY,
      purpose: 'pipeline function',
      invokedSynchronouslyBy: "by the state machine's Lambda tasks, which retry and catch its errors",
      // Training and evaluation load models with onnxruntime: x86_64, as for inference.
      architecture: lambda.Architecture.X86_64,
      onnxRuntime: true,
      memorySize: settings.memorySize,
      // /tmp for the largest dataset a training step accepts at this memory (Prepare refuses larger).
      ephemeralStorageSize: Size.mebibytes(
        scratchSpaceMb({ memoryMb: settings.memorySize, timeoutSeconds: settings.timeout.toSeconds() }),
      ),
      timeout: settings.timeout,
      logRetention: retention,
      metricsService: METRICS_SERVICES.pipeline,
      environment: {
        DATA_BUCKET: props.dataBucket.bucketName,
        MODEL_BUCKET: props.modelBucket.bucketName,
        MODEL_SPECS_DIR: MODEL_SPECS_PATH,
        // Prepare's capacity check (core/pipeline/training-capacity.ts); Lambda sets the memory size itself.
        STEP_TIMEOUT_SECONDS: String(settings.timeout.toSeconds()),
        // Where data beyond one function trains (core/pipeline/training-engine.ts); absent: refused.
        ...(managed
          ? {
              MANAGED_TRAINING_MEMORY_MB: String(managed.memoryMiB),
              MANAGED_TRAINING_TIMEOUT_SECONDS: String(managed.timeout.toSeconds()),
            }
          : {}),
      },
      afterBundling: (_inputDir, outputDir) => [copyModelSpecsCommand(settings.modelSpecsDir, outputDir)],
    });
    // Uploads are read and, once their processed or quarantined copy is written, removed.
    fn.grantObjects(props.dataBucket, INCOMING_PREFIX, ['s3:GetObject', 's3:DeleteObject']);
    // processed/ and quarantine/ are written once and kept; claims/ records which execution
    // handles an object version (conditional put) and is never deleted.
    for (const prefix of [PROCESSED_PREFIX, QUARANTINE_PREFIX, CLAIMS_PREFIX])
      fn.grantObjects(props.dataBucket, prefix, ['s3:GetObject', 's3:PutObject']);
    fn.grantList(props.dataBucket, [INCOMING_PREFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX, CLAIMS_PREFIX]);
    // The registry (versions, aliases, history) and run records; nothing there is ever deleted.
    for (const prefix of [REGISTRY_PREFIX, RUNS_PREFIX])
      fn.grantObjects(props.modelBucket, prefix, ['s3:GetObject', 's3:PutObject']);
    fn.grantList(props.modelBucket, [REGISTRY_PREFIX, RUNS_PREFIX]);
    this.fn = fn;

    this.topic = new sns.Topic(this, 'Topic', {
      masterKey: kms.Alias.fromAliasName(this, 'TopicKey', 'alias/aws/sns'),
      enforceSSL: true,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        retrainingDefinition(this, {
          fn,
          topic: this.topic,
          maxConcurrency: settings.maxConcurrency,
          taskTimeout: settings.timeout,
          ...(managed ? { managedTraining: managed.task } : {}),
        }),
      ),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention }),
        // Every state transition is logged: a few runs a day make this cheap, and a failed run's
        // history is then readable in Logs Insights beside the function's logs.
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
    // Its role: lambda:InvokeFunction on the function (and its versions, fn:*), sns:Publish on the
    // topic, and log delivery / X-Ray actions that accept no resource but '*'; with the managed
    // engine, ecs:RunTask on the task definition, ecs:StopTask / DescribeTasks (ECS takes '*'
    // there), iam:PassRole on its two roles and the .sync integration's EventBridge rule.
    acknowledgeResourceWildcards(this.stateMachine.role, 'state machine role');

    this.deadLetterQueue = deadLetterQueue(
      this,
      'StartDeadLetterQueue',
      'events of the EventBridge rule targets that could not start an execution',
    );
    const start = (input: events.RuleTargetInput) =>
      new targets.SfnStateMachine(this.stateMachine, {
        input,
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 10,
        maxEventAge: Duration.hours(24),
      });

    this.rule = new events.Rule(this, 'UploadRule', {
      description: `Starts the retraining pipeline for every object created under ${INCOMING_PREFIX}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.dataBucket.bucketName] },
          object: { key: events.Match.prefix(INCOMING_PREFIX) },
        },
      },
      targets: [
        start(
          events.RuleTargetInput.fromObject({
            trigger: 'upload',
            bucket: events.EventField.fromPath('$.detail.bucket.name'),
            key: events.EventField.fromPath('$.detail.object.key'),
            etag: events.EventField.fromPath('$.detail.object.etag'),
          }),
        ),
      ],
    });

    const schedules: Record<string, events.Rule> = {};
    for (const model of settings.models) {
      if (model.schedule === undefined) continue;
      schedules[model.name] = new events.Rule(this, `Schedule-${model.name}`, {
        description: `Retrains ${model.name} on ${model.schedule}`,
        schedule: events.Schedule.expression(model.schedule),
        targets: [start(events.RuleTargetInput.fromObject({ model: model.name, trigger: 'schedule' }))],
      });
    }
    this.schedules = schedules;

    this.alarms = props.alarmTopic ? this.createAlarms(props.alarmTopic) : [];
  }

  private createAlarms(alarmTopic: sns.ITopic): cloudwatch.Alarm[] {
    const period = Duration.minutes(5);
    const watched: [string, cloudwatch.IMetric][] = [
      ['ExecutionsFailed', this.stateMachine.metricFailed({ period, statistic: 'Sum' })],
      ['ExecutionsThrottled', this.stateMachine.metricThrottled({ period, statistic: 'Sum' })],
      ['ExecutionsAborted', this.stateMachine.metricAborted({ period, statistic: 'Sum' })],
      ['ExecutionsTimedOut', this.stateMachine.metricTimedOut({ period, statistic: 'Sum' })],
      // Starts EventBridge could not deliver: no execution exists to fail, so only this tells.
      [
        'StartsDeadLettered',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      ],
    ];
    return watched.map(([name, metric]) => {
      const alarm = new cloudwatch.Alarm(this, `${name}Alarm`, {
        alarmDescription: `Retraining pipeline: ${name} > 0 in 5 minutes`,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(alarmTopic));
      return alarm;
    });
  }
}
