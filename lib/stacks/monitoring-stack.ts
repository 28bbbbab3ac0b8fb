import { ArnFormat, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS as GATE_METRICS } from '../../core/pipeline/model-spec';
import { nameProblem } from '../../core/registry/keys';
import {
  type AlarmThresholds,
  alarmThresholdsWithDefaults,
  validateAlarmThresholds,
} from '../monitoring/alarm-thresholds';
import { type MonitoredModel, PlatformAlarms } from '../monitoring/platform-alarms';
import { PlatformDashboard } from '../monitoring/platform-dashboard';
import type { MonitoredCapture, MonitoredJob } from '../monitoring/data-loop-metrics';
import { type MonitoredRollout, type MonitoredStarts, PlatformMetrics } from '../monitoring/platform-metrics';

/** The inference API as InferenceApi exposes it (an InferenceApi can be passed as is). */
export interface MonitoredApi {
  readonly api: apigw.IHttpApi;
  /** The stage whose metrics are drawn and alarmed on (ApiId + Stage dimensions). */
  readonly stage: apigw.IHttpStage;
}

export interface MonitoringStackProps extends StackProps {
  /** The inference HTTP API and its stage (InferenceStack's `inference`). */
  readonly api: MonitoredApi;
  readonly inferenceFunction: lambda.IFunction;
  /** The retraining pipeline's step function (RetrainingPipeline's `fn`). */
  readonly pipelineFunction: lambda.IFunction;
  readonly stateMachine: sfn.IStateMachine;
  /**
   * What starts the pipeline: its upload rule, schedules and their dead-letter queue (a
   * RetrainingPipeline can be passed as is). Lost starts are alarmed on here, since no execution
   * exists to fail.
   */
  readonly pipelineStarts: MonitoredStarts;
  /**
   * The canary rollout (PipelineStack's `rollout`, a ModelRollout can be passed as is): its broken
   * executions and undelivered events are alarmed on here.
   * @default - no rollout alarms
   */
  readonly rollout?: MonitoredRollout;
  /**
   * The drift monitoring job (PipelineStack's `monitoringJob`, a MonitoringJob can be passed as
   * is): its failed runs and dead-lettered events are alarmed on here.
   * @default - no monitoring job alarms or graphs
   */
  readonly monitoringJob?: MonitoredJob;
  /**
   * The capture path (InferenceApi's `capture`, an InferenceCapture can be passed as is): its
   * Firehose stream is drawn, and alarmed on when it stops delivering (CaptureDeliveryFailing).
   * @default - no capture stream graph or alarm
   */
  readonly capture?: MonitoredCapture;
  /** One per model spec: name, gate metric, schedule and drift monitoring (config/models/*.json). */
  readonly models: readonly MonitoredModel[];
  /**
   * Overrides of the alarm thresholds; validated at synth.
   * @default - DEFAULT_ALARM_THRESHOLDS (lib/monitoring/alarm-thresholds.ts, each justified there)
   */
  readonly thresholds?: Partial<AlarmThresholds>;
  /**
   * An address subscribed to the alarm topic (AWS sends it a confirmation mail first).
   * @default - no subscription: subscribe to the AlarmTopicArn output yourself
   */
  readonly alarmEmail?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Validates what thresholds cannot: the models and the email, with what was received. */
export function monitoredModelsProblems(models: readonly MonitoredModel[], alarmEmail?: string): string[] {
  const problems: string[] = [];
  if (models.length === 0)
    problems.push('models must list at least one model (one per config/models/*.json spec), got none');
  const seen = new Set<string>();
  for (const model of models) {
    const nameError = nameProblem('model', model.name);
    if (nameError) problems.push(`models: ${nameError}`);
    if (seen.has(model.name)) problems.push(`models: "${model.name}" is listed twice; list each model once`);
    seen.add(model.name);
    if (!(GATE_METRICS as readonly string[]).includes(model.gateMetric)) {
      problems.push(
        `models: the gateMetric of "${model.name}" must be one of ${GATE_METRICS.join(', ')} (the spec's gate.metric), got "${model.gateMetric}"`,
      );
    }
    const drift = model.monitoring;
    if (drift && !(Number.isFinite(drift.driftThreshold) && drift.driftThreshold > 0)) {
      problems.push(
        `models: the driftThreshold of "${model.name}" must be a PSI above 0 (the spec's monitoring.driftThreshold), got ${drift.driftThreshold}`,
      );
    }
    if (drift?.liveAccuracyFloor !== undefined && !(drift.liveAccuracyFloor > 0 && drift.liveAccuracyFloor <= 1)) {
      problems.push(
        `models: the liveAccuracyFloor of "${model.name}" must be a share above 0 and at most 1 (the spec's monitoring.liveAccuracyFloor), got ${drift.liveAccuracyFloor}`,
      );
    }
  }
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail))
    problems.push(`alarmEmail must be an email address, got "${alarmEmail}"`);
  return problems;
}

/**
 * One dashboard for the whole platform and its alarms, all sent to one encrypted SNS topic. It only
 * reads the other stacks' resources (nothing depends on it), so it deploys last and can be
 * replaced freely.
 */
export class MonitoringStack extends Stack {
  readonly alarmTopic: sns.Topic;
  readonly metrics: PlatformMetrics;
  readonly alarms: PlatformAlarms;
  readonly dashboard: PlatformDashboard;
  readonly thresholds: AlarmThresholds;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    // Validate first: every problem at once, before anything is built.
    this.thresholds = alarmThresholdsWithDefaults(props.thresholds);
    const problems = [
      ...monitoredModelsProblems(props.models, props.alarmEmail),
      ...validateAlarmThresholds(this.thresholds),
    ];
    if (props.api.stage.api !== props.api.api)
      problems.push('api.stage must be a stage of api.api (pass the InferenceApi, or its api and stage)');
    if (problems.length > 0) throw new Error(`MonitoringStack ${id} cannot be built:\n- ${problems.join('\n- ')}`);

    this.alarmTopic = this.createAlarmTopic();
    if (props.alarmEmail) {
      const subscription = this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'SNS retries email delivery, and an alarm stays in ALARM (and red on the dashboard) whether or not its mail arrived; a dead-letter queue of alarm mails would itself need someone to be notified',
      });
    }

    this.metrics = new PlatformMetrics({
      stage: props.api.stage,
      inferenceFunction: props.inferenceFunction,
      pipelineFunction: props.pipelineFunction,
      stateMachine: props.stateMachine,
      starts: props.pipelineStarts,
      ...(props.rollout ? { rolloutMachine: props.rollout } : {}),
      ...(props.monitoringJob ? { monitoringJob: props.monitoringJob } : {}),
      ...(props.capture ? { capture: props.capture } : {}),
    });
    this.alarms = new PlatformAlarms(this, 'Alarms', {
      metrics: this.metrics,
      models: props.models,
      thresholds: this.thresholds,
      topic: this.alarmTopic,
    });
    this.dashboard = new PlatformDashboard(this, 'Platform', {
      metrics: this.metrics,
      models: props.models,
      thresholds: this.thresholds,
      alarms: this.alarms.alarms,
    });

    const region = this.region;
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboard.dashboardName}`,
      description: 'The platform dashboard: is it healthy, is the model good, what changed',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topicArn,
      description: 'Every platform alarm notifies this topic; subscribe to it (email, chat, pager)',
    });
  }

  /**
   * A customer-managed key, not alias/aws/sns: CloudWatch alarms cannot publish to a topic under
   * the AWS-managed key (its policy cannot grant cloudwatch.amazonaws.com kms:GenerateDataKey*),
   * and the notifications would be dropped silently.
   */
  private createAlarmTopic(): sns.Topic {
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const key = new kms.Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the platform alarm topic',
    });
    // Kept without conditions: whether the KMS call SNS makes for CloudWatch carries
    // aws:SourceArn is not documented, and a condition it failed would drop every notification
    // silently. The topic policy below is what limits publishing to this account's alarms.
    key.grant(cloudwatchService, 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'AlarmTopic', {
      masterKey: key,
      enforceSSL: true,
      displayName: 'Serverless MLOps alarms',
    });
    // The topic has a policy (enforceSSL), so the account-wide default no longer lets CloudWatch in.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarms',
        principals: [cloudwatchService],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return topic;
  }
}
