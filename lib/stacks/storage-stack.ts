import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SecureBucket } from '../constructs/secure-bucket';

/**
 * The stateful part of the platform, kept in its own stack so the others can be replaced
 * freely: the data bucket (incoming/, processed/, quarantine/, batch/) and the model registry.
 */
export class StorageStack extends Stack {
  readonly dataBucket: s3.IBucket;
  readonly modelBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    // EventBridge on the data bucket: uploads under incoming/ start retraining.
    this.dataBucket = new SecureBucket(this, 'DataBucket', { eventBridgeEnabled: true }).bucket;
    this.modelBucket = new SecureBucket(this, 'ModelBucket').bucket;
    new CfnOutput(this, 'DataBucketName', { value: this.dataBucket.bucketName, description: 'Upload training data to s3://<this>/incoming/<model>/ to retrain' });
    new CfnOutput(this, 'ModelBucketName', { value: this.modelBucket.bucketName, description: 'The model registry (npm run registry with MODEL_BUCKET=<this>)' });
  }
}
