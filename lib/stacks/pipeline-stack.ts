import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type ModelSpec, monitoringSettings } from '../../core/pipeline/model-spec';
import { BatchTransform, type BatchTransformProps } from '../constructs/batch-transform';
import { MonitoringJob, type MonitoringJobProps } from '../constructs/monitoring-job';
import { RetrainingPipeline, type RetrainingPipelineProps } from '../constructs/retraining-pipeline';
import { ModelRollout, type ModelRolloutProps } from '../constructs/rollout';

export interface PipelineStackProps extends StackProps {
  readonly dataBucket: s3.IBucket;
  readonly modelBucket: s3.IBucket;
  /** The model specs (config/models): one per model; a schedule becomes a rule. */
  readonly specs: readonly ModelSpec[];
  /** Function memory, step timeout, log retention (see RetrainingPipelineProps). */
  readonly pipeline?: Omit<RetrainingPipelineProps, 'dataBucket' | 'modelBucket' | 'models'>;
  /** Function memory, timeout, log retention of the progressive rollout (see ModelRolloutProps). */
  readonly rollout?: Omit<ModelRolloutProps, 'modelBucket' | 'models' | 'topic'>;
  /** Function memory, timeout, log retention of the drift monitoring job (see MonitoringJobProps). */
  readonly monitoringJob?: Omit<MonitoringJobProps, 'dataBucket' | 'modelBucket' | 'stateMachine' | 'models'>;
  /** Memory, concurrency and batching of the batch transform (see BatchTransformProps). */
  readonly batch?: Omit<BatchTransformProps, 'dataBucket' | 'modelBucket'>;
}

/**
 * The retraining pipeline (uploads under incoming/<model>/, schedules, drift and on-demand runs),
 * the progressive rollout of canaries (requests under registry/<model>/rollouts/), which share the
 * notification topic, and the drift monitoring job that starts drift runs.
 *
 * The monitoring job lives here rather than in the inference or monitoring stack: its one write
 * outside the data bucket is starting this stack's state machine (granted on its ARN, no
 * cross-stack export), it reads the same buckets as the pipeline function, and it is part of
 * deciding when to retrain. The monitoring stack stays read-only (nothing depends on it), and the
 * inference stack keeps no dependency on the pipeline.
 */
export class PipelineStack extends Stack {
  readonly pipeline: RetrainingPipeline;
  readonly rollout: ModelRollout;
  /** Undefined when no model captures (nothing to monitor). */
  readonly monitoringJob?: MonitoringJob;
  /** Batch transform jobs: uploads under batch/<model>/ scored by a Distributed Map. */
  readonly batch: BatchTransform;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    this.pipeline = new RetrainingPipeline(this, 'Retraining', {
      ...props.pipeline,
      dataBucket: props.dataBucket,
      modelBucket: props.modelBucket,
      models: props.specs.map((s) => ({ name: s.name, schedule: s.schedule })),
    });
    this.rollout = new ModelRollout(this, 'Rollout', {
      logRetention: props.pipeline?.logRetention,
      ...props.rollout,
      modelBucket: props.modelBucket,
      models: props.specs.map((s) => s.name),
      topic: this.pipeline.topic,
    });
    // A model with capture off has nothing to judge, and a run would only write empty reports.
    const monitored = props.specs.flatMap((s) => {
      const settings = monitoringSettings(s);
      return settings.capture.enabled ? [{ name: s.name, schedule: settings.schedule }] : [];
    });
    if (monitored.length > 0) {
      this.monitoringJob = new MonitoringJob(this, 'Monitoring', {
        logRetention: props.pipeline?.logRetention,
        ...props.monitoringJob,
        dataBucket: props.dataBucket,
        modelBucket: props.modelBucket,
        stateMachine: this.pipeline.stateMachine,
        models: monitored,
      });
    }
    this.batch = new BatchTransform(this, 'BatchTransform', {
      logRetention: props.pipeline?.logRetention,
      ...props.batch,
      dataBucket: props.dataBucket,
      modelBucket: props.modelBucket,
    });
    new CfnOutput(this, 'BatchStateMachineArn', {
      value: this.batch.stateMachine.stateMachineArn,
      description: 'Batch transform jobs: one execution per object created under batch/<model>/',
    });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.pipeline.stateMachine.stateMachineArn,
      description:
        'Start an on-demand run: aws stepfunctions start-execution --state-machine-arn <this> --input \'{"model":"<name>","trigger":"manual"}\'',
    });
    new CfnOutput(this, 'StartDeadLetterQueueUrl', {
      value: this.pipeline.deadLetterQueue.queueUrl,
      description:
        'Uploads and scheduled runs EventBridge could not start (docs/operations.md, PipelineStartsDeadLettered)',
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: this.pipeline.topic.topicArn,
      description: 'Subscribe to run summaries, quarantines and failures, and rollout outcomes',
    });
    new CfnOutput(this, 'RolloutStateMachineArn', {
      value: this.rollout.stateMachine.stateMachineArn,
      description: 'Rollouts of canaries: one execution per registry/<model>/rollouts/<id>.json request',
    });
  }
}
