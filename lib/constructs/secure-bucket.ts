import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface SecureBucketProps {
  /**
   * Days an overwritten or deleted object version is kept before it expires.
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Whether object-level events go to EventBridge (what starts the retraining pipeline).
   * @default false
   */
  readonly eventBridgeEnabled?: boolean;
  /**
   * Where S3 server access logs of this bucket go (under `<serverAccessLogsPrefix>`).
   * @default - no access logs (only for the access-log bucket itself)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** @default - the bucket's construct id, e.g. 'DataBucket/' */
  readonly serverAccessLogsPrefix?: string;
  /**
   * Days after which current objects expire too (for buckets of logs).
   * @default - objects are kept
   */
  readonly expirationDays?: number;
}

/** The settings every bucket in the platform gets; kept in one pure function so tests can read them. */
export function secureBucketDefaults(props: SecureBucketProps): s3.BucketProps {
  const days = props.noncurrentVersionExpirationDays ?? 90;
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(`noncurrentVersionExpirationDays must be a whole number of days >= 1, got ${days}`);
  }
  return {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [
      { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(days) },
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ...(props.expirationDays === undefined
        ? []
        : [{ id: 'expire-objects', expiration: Duration.days(props.expirationDays) }]),
    ],
    serverAccessLogsBucket: props.serverAccessLogsBucket,
    serverAccessLogsPrefix: props.serverAccessLogsBucket ? props.serverAccessLogsPrefix : undefined,
  };
}

/** An S3 bucket that is encrypted, versioned, SSL-only, private and retained on stack deletion. */
export class SecureBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(
      this,
      'Bucket',
      secureBucketDefaults({ ...props, serverAccessLogsPrefix: props.serverAccessLogsPrefix ?? `${id}/` }),
    );
    if (props.eventBridgeEnabled) {
      // Set on the CloudFormation resource itself: the L2 `eventBridgeEnabled` goes through a
      // custom resource, which LocalStack's free tier cannot run.
      (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
  }
}
