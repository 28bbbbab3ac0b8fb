import { CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { captureRetentionRules } from '../constructs/capture-retention';
import { SecureBucket } from '../constructs/secure-bucket';

export interface StorageStackProps extends StackProps {
  /**
   * Days an overwritten or deleted object version is kept.
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days each model's captured requests (capture/<model>/) and feedback (feedback/<model>/) are
   * kept, by model name: its spec's monitoring.capture.retentionDays (lifecycle rules,
   * lib/constructs/capture-retention.ts).
   * @default - no capture retention rules (no model captures)
   */
  readonly captureRetentionDays?: Readonly<Record<string, number>>;
}

/**
 * The stateful part of the platform, kept in its own stack so the others can be replaced
 * freely: the data bucket (incoming/, processed/, quarantine/, claims/, and the production data
 * loop's capture/, feedback/, monitoring/, monitoring-state/), the model registry
 * (registry/, runs/), and the bucket receiving both buckets' S3 server access logs.
 */
export class StorageStack extends Stack {
  readonly dataBucket: s3.IBucket;
  readonly modelBucket: s3.IBucket;
  readonly accessLogBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: StorageStackProps = {}) {
    super(scope, id, props);
    // Access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL (ACLs
    // stay disabled on every bucket), whatever the app's feature flags say.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    // Who read or changed which object (S3 server access logs), kept a year.
    this.accessLogBucket = new SecureBucket(this, 'AccessLogBucket', {
      expirationDays: 365,
      noncurrentVersionExpirationDays: 30,
    }).bucket;
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'this is the access-log bucket of the other buckets; logging its own access would log every log delivery',
    });
    const logged = {
      noncurrentVersionExpirationDays: props.noncurrentVersionExpirationDays,
      serverAccessLogsBucket: this.accessLogBucket,
    };
    // EventBridge on the data bucket: uploads under incoming/ start retraining.
    const dataBucket = new SecureBucket(this, 'DataBucket', { ...logged, eventBridgeEnabled: true }).bucket;
    // Captured requests and feedback are personal data in many deployments: kept per model's spec.
    for (const rule of captureRetentionRules(props.captureRetentionDays ?? {})) dataBucket.addLifecycleRule(rule);
    this.dataBucket = dataBucket;
    // EventBridge on the model bucket: rollout requests under registry/<model>/rollouts/ start a rollout.
    this.modelBucket = new SecureBucket(this, 'ModelBucket', { ...logged, eventBridgeEnabled: true }).bucket;
    new CfnOutput(this, 'DataBucketName', {
      value: this.dataBucket.bucketName,
      description: 'Upload training data to s3://<this>/incoming/<model>/ to retrain',
    });
    new CfnOutput(this, 'ModelBucketName', {
      value: this.modelBucket.bucketName,
      description: 'The model registry (npm run registry with MODEL_BUCKET=<this>)',
    });
  }
}
