import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { nameProblem } from '../../core/registry/keys';
import { everyModelRegistryPattern } from '../../core/contracts/buckets';
import { INFERENCE_METRICS, METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';
import { acknowledgeResourceWildcards } from './least-privilege';
import { PlatformFunction } from './platform-function';
import { rolloutDefinition } from './rollout-definition';
import { deadLetterQueue } from './dead-letter-queue';
import { PROJECT_ROOT } from './project-root';

/** The rollout function: the state machine's steps and the rollback alarm's abort. */
const ROLLOUT_ENTRY = join(PROJECT_ROOT, 'lambdas', 'rollout', 'handler.ts');
/** What starts a rollout: a RolloutRequest written by the routing store (core/registry/routing.ts). */
const ROLLOUT_REQUEST_PATTERN = everyModelRegistryPattern('rollouts/*.json');

export interface ModelRolloutProps {
  /**
   * The registry bucket: rollout requests start executions, and the function moves routing.json
   * and the aliases. Needs EventBridge notifications on.
   */
  readonly modelBucket: s3.IBucket;
  /** The models (config/models specs): each gets a canary rollback alarm. */
  readonly models: readonly string[];
  /**
   * Where each rollout's outcome (promoted, aborted, why) is published.
   * @default - no notices
   */
  readonly topic?: sns.ITopic;
  /**
   * The function's memory in MB. Its steps read a few S3 objects and one GetMetricData answer.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * The function's timeout, and every Task's TimeoutSeconds.
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's and the state machine's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The inference function's metrics service dimension (its POWERTOOLS_SERVICE_NAME).
   * @default 'inference'
   */
  readonly inferenceService?: string;
  /**
   * The handler source file; for tests and alternative handlers.
   * @default - lambdas/rollout/handler.ts
   */
  readonly entry?: string;
}

/** Validates the props before anything is built; errors say what was received and what fits. */
export function rolloutSettings(props: ModelRolloutProps): { memorySize: number; timeout: Duration } {
  const memorySize = props.memorySize ?? 256;
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)
    throw new Error(`memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`);
  const timeout = props.timeout ?? Duration.minutes(1);
  const seconds = timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 3 || seconds > 900)
    throw new Error(`timeout must be whole seconds from 3 s to 15 minutes (Lambda's limit), got ${seconds} s`);
  if (props.models.length === 0)
    throw new Error('models must list at least one model (one per config/models/*.json spec), got none');
  const seen = new Set<string>();
  for (const model of props.models) {
    const problem = nameProblem('model', model);
    if (problem) throw new Error(`models: ${problem}`);
    if (seen.has(model)) throw new Error(`models: "${model}" is listed twice; list each model once`);
    seen.add(model);
  }
  return { memorySize, timeout };
}

/**
 * Progressive rollout of canary versions: a Standard state machine started by every rollout
 * request written under registry/<model>/rollouts/ (the routing store writes one when a canary
 * starts with a plan), which bakes each step, judges it on live metrics and advances, promotes or
 * aborts; and per model a rollback alarm on the canary's server errors whose ALARM state reaches
 * the function through EventBridge and takes the canary out at once.
 *
 * The function is invoked synchronously by the state machine and asynchronously by the alarm
 * rule; its asynchronous failures (after Lambda's two retries) and the events neither rule could
 * deliver go to one dead-letter queue.
 */
export class ModelRollout extends Construct {
  public readonly fn: PlatformFunction;
  public readonly stateMachine: sfn.StateMachine;
  /** Starts an execution for every rollout request object created. */
  public readonly startRule: events.Rule;
  /** Sends the rollback alarms' ALARM state changes to the function (alarm-abort). */
  public readonly alarmRule: events.Rule;
  /** The rollback alarm of each model, by model name: VariantServerErrors{variant=canary} Sum > 0 in 1 minute. */
  public readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** Rollout starts and alarm aborts that could not be delivered, and failed asynchronous invocations; kept 14 days. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ModelRolloutProps) {
    super(scope, id);
    const settings = rolloutSettings(props);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      'rollout starts and alarm aborts that could not be delivered',
    );

    // No native module (it never loads a model), so the default (cheaper) architecture.
    this.fn = new PlatformFunction(this, 'Function', {
      entry: props.entry ?? ROLLOUT_ENTRY,
      purpose: 'rollout function',
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      logRetention: retention,
      deadLetterQueue: this.deadLetterQueue,
      environment: {
        MODEL_BUCKET: props.modelBucket.bucketName,
        // What it reads (the inference function's metrics), not what it publishes: it publishes none.
        METRICS_NAMESPACE,
        INFERENCE_SERVICE_NAME: props.inferenceService ?? METRICS_SERVICES.inference,
      },
    });
    this.grantRegistry(props.modelBucket);
    this.grantMetricsRead();

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        rolloutDefinition(this, { fn: this.fn, topic: props.topic, taskTimeout: settings.timeout }),
      ),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
    acknowledgeResourceWildcards(this.stateMachine.role, 'rollout state machine role');

    const delivery = { deadLetterQueue: this.deadLetterQueue, retryAttempts: 10, maxEventAge: Duration.hours(24) };
    this.startRule = new events.Rule(this, 'StartRule', {
      description: `Starts a rollout for every request written to ${ROLLOUT_REQUEST_PATTERN}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.modelBucket.bucketName] },
          object: { key: events.Match.wildcard(ROLLOUT_REQUEST_PATTERN) },
        },
      },
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            bucket: events.EventField.fromPath('$.detail.bucket.name'),
            key: events.EventField.fromPath('$.detail.object.key'),
          }),
          ...delivery,
        }),
      ],
    });

    const alarms: Record<string, cloudwatch.Alarm> = {};
    for (const model of props.models)
      alarms[model] = this.canaryAlarm(model, props.inferenceService ?? METRICS_SERVICES.inference);
    this.alarms = alarms;
    this.alarmRule = new events.Rule(this, 'AlarmRule', {
      description: 'Aborts the canary of a model whose rollback alarm went to ALARM',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: Object.values(alarms).map((a) => a.alarmArn),
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.LambdaFunction(this.fn, delivery)],
    });
  }

  /**
   * VariantServerErrors of the canary, Sum > 0 in one minute. A count, not a rate: a 5xx is a
   * request the canary failed on valid input (bad input is a 4xx), the champion's normal rate is
   * ~0, and at a 10% weight of a quiet model a rate would swing on a handful of requests. Aborting
   * on one error costs a canary (the champion serves; roll out again), letting errors through costs
   * users. Missing data (no canary traffic) is not breaching.
   */
  private canaryAlarm(model: string, service: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, `CanaryServerErrors-${model}`, {
      alarmDescription: `The canary of ${model} answered with server errors: its rollout is aborted at once (weight 0, challenger recorded with this alarm's name). Runbook: docs/operations.md, section CanaryServerErrors.`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: INFERENCE_METRICS.variantServerErrors,
        dimensionsMap: { service, model, variant: 'canary' },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Read anything under registry/; write only what a rollout changes: the routing document and
   * its history (registry/<model>/routing*), aliases and their history (promote, challenger) and
   * its own records (rollout-runs/). Never model versions, never rollout requests.
   */
  private grantRegistry(bucket: s3.IBucket): void {
    this.fn.grantReadModels(bucket);
    for (const prefix of ['routing', 'aliases/', 'history/', 'rollout-runs/'].map(everyModelRegistryPattern))
      this.fn.grantObjects(bucket, prefix, ['s3:PutObject']);
    // The Allows above use 'registry/*/...', and '*' spans '/' in an ARN (registry/<m>/rollouts/routing.json
    // would match): an explicit Deny keeps the function from ever writing a rollout request.
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(everyModelRegistryPattern('rollouts/*'))],
      }),
    );
  }

  /** GetMetricData accepts no resource but '*' (it has no resource-level permissions), so it gets a policy of its own to acknowledge. */
  private grantMetricsRead(): void {
    const role = this.fn.role;
    if (!role) throw new Error('the rollout function has no role');
    const policy = new iam.Policy(this, 'MetricsReadPolicy', {
      statements: [new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] })],
    });
    policy.attachToRole(role);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "cloudwatch:GetMetricData supports no resource-level permissions (the Service Authorization Reference lists no resource type for it), so '*' is the only resource it takes; the action itself only reads metrics",
    });
  }
}
