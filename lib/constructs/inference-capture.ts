import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CAPTURE_ERRORS_PREFIX, CAPTURE_PREFIX } from '../../core/contracts/buckets';
import { CAPTURE_KIND } from '../../core/monitoring/contract';
import { acknowledgeResourceWildcards, grantObjects } from './least-privilege';

/** The log events the subscription sends on: the inference function's capture lines, nothing else it logs. */
const CAPTURE_FILTER_PATTERN = `{ $.kind = "${CAPTURE_KIND}" }`;
/** capture/<model>/date=YYYY-MM-DD/hour=HH/ (core/monitoring/contract.ts), from each record's `model` and its arrival time (UTC). */
const CAPTURE_DELIVERY_PREFIX = `${CAPTURE_PREFIX}!{partitionKeyFromQuery:model}/date=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`;
/**
 * capture-errors/<error type>/date=YYYY-MM-DD/ (contract.ts `captureErrorsDayPrefix`): what Firehose could not partition or
 * deliver, e.g. a Logs batch of more than 500 captures (over the de-aggregation limit). The monitoring job reads it too.
 */
const CAPTURE_ERROR_OUTPUT_PREFIX = `${CAPTURE_ERRORS_PREFIX}!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/`;
/** Objects end like the local platform's (local/capture-delivery.ts), so one reader lists both. */
const CAPTURE_FILE_EXTENSION = '.jsonl';

/**
 * How long Firehose buffers per partition (model, hour) before it writes an object.
 *
 * 300 s: the monitoring job (hourly by default, over a 24-hour window) then misses at most the
 * last ~5 minutes of its window (~0.3 %), a user running `registry drift --now` after sending
 * traffic waits at most ~5 minutes, and a model with steady traffic makes at most 288 objects a
 * day. 60 s would make 1440 (each one a Firehose dynamic-partitioning object charge and one more
 * GET for every monitoring run over the window); 900 s would leave up to a quarter of an hour out
 * of every run. The size hint is the smallest dynamic partitioning allows (64 MB): at these
 * volumes the interval, not the size, decides.
 */
export const DEFAULT_CAPTURE_BUFFERING = Duration.seconds(300);
const DYNAMIC_PARTITIONING_MIN_BUFFER_MB = 64;

export interface InferenceCaptureProps {
  /** The inference function's own log group (an explicit one: a subscription filter needs the group to exist). */
  readonly logGroup: logs.ILogGroup;
  /** Captured records land under capture/, what Firehose could not deliver under capture-errors/. */
  readonly dataBucket: s3.IBucket;
  /**
   * How long Firehose buffers records before writing an object, 60..900 s (dynamic partitioning's range).
   * @default DEFAULT_CAPTURE_BUFFERING (300 s, justified there)
   */
  readonly bufferingInterval?: Duration;
  /**
   * How long Firehose's own error log (delivery and partitioning failures) is kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Validates the buffering interval; the error says what was received and what fits. */
export function captureBufferingSeconds(interval: Duration = DEFAULT_CAPTURE_BUFFERING): number {
  const seconds = interval.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > 900) {
    throw new Error(
      `bufferingInterval must be whole seconds from 60 to 900 (Firehose's range with dynamic partitioning), got ${seconds} s`,
    );
  }
  return seconds;
}

/**
 * The AWS capture path: the inference function logs one JSON line per captured instance
 * (`"kind": "inference-capture"`), a CloudWatch Logs subscription filter sends those lines (and
 * only those) to a Firehose stream, which unzips the Logs batches, keeps each event's message,
 * partitions by the record's `model` and writes JSON lines to
 * capture/<model>/date=YYYY-MM-DD/hour=HH/ in the data bucket. Nothing on the request path waits
 * for it or can be failed by it (docs/architecture.md, "Capture path").
 *
 * L1 for the stream: the L2 S3 destination grants the role `grantReadWrite` on the whole bucket
 * (s3:GetObject*, s3:DeleteObject*, s3:List*), where Firehose needs to write two prefixes.
 * Encrypted in the stream with an AWS-owned key; in S3 with the bucket's SSE-S3.
 */
export class InferenceCapture extends Construct {
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  /** The stream's name: the DeliveryStreamName dimension of its AWS/Firehose metrics. */
  public readonly deliveryStreamName: string;
  /** How long the stream buffers before writing (what its DataFreshness is judged against). */
  public readonly bufferingInterval: Duration;
  public readonly subscriptionFilter: logs.CfnSubscriptionFilter;
  /** Assumed by Firehose: writes capture/* and capture-errors/* and its error log, nothing else. */
  public readonly deliveryRole: iam.Role;
  /** Assumed by CloudWatch Logs for the inference log group: puts records into this stream only. */
  public readonly subscriptionRole: iam.Role;
  /** Firehose's delivery and partitioning errors. */
  public readonly errorLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: InferenceCaptureProps) {
    super(scope, id);
    const bufferingSeconds = captureBufferingSeconds(props.bufferingInterval);
    const stack = Stack.of(this);

    this.errorLogGroup = new logs.LogGroup(this, 'DeliveryErrors', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const errorStream = this.errorLogGroup.addStream('S3Delivery');

    this.deliveryRole = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Firehose capture stream: writes capture/ and capture-errors/ in the data bucket and its error log',
    });
    // Write only; s3:AbortMultipartUpload lets Firehose clean up a large object it could not finish.
    for (const prefix of [CAPTURE_PREFIX, CAPTURE_ERRORS_PREFIX])
      grantObjects(props.dataBucket, this.deliveryRole, prefix, ['s3:PutObject', 's3:AbortMultipartUpload']);
    // The bucket's region (a bucket-level read of no data), which Firehose checks before delivering.
    this.deliveryRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [props.dataBucket.bucketArn] }),
    );
    this.errorLogGroup.grantWrite(this.deliveryRole);
    acknowledgeResourceWildcards(this.deliveryRole, 'capture delivery role');

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamType: 'DirectPut',
      // Records at rest inside Firehose (up to the buffering interval, and 24 h of retries).
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: props.dataBucket.bucketArn,
        roleArn: this.deliveryRole.roleArn,
        prefix: CAPTURE_DELIVERY_PREFIX,
        errorOutputPrefix: CAPTURE_ERROR_OUTPUT_PREFIX,
        fileExtension: CAPTURE_FILE_EXTENSION,
        bufferingHints: { intervalInSeconds: bufferingSeconds, sizeInMBs: DYNAMIC_PARTITIONING_MIN_BUFFER_MB },
        // Plain JSON lines, as the local platform writes them: one reader for both.
        compressionFormat: 'UNCOMPRESSED',
        // The data bucket encrypts every object with SSE-S3 by default (SecureBucket), so no KMS key to grant.
        encryptionConfiguration: { noEncryptionConfig: 'NoEncryption' },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            // CloudWatch Logs sends gzipped batches of log events...
            { type: 'Decompression', parameters: [{ parameterName: 'CompressionFormat', parameterValue: 'GZIP' }] },
            // ... of which only each event's message (the CaptureRecord JSON) is kept ...
            {
              type: 'CloudWatchLogProcessing',
              parameters: [{ parameterName: 'DataMessageExtraction', parameterValue: 'true' }],
            },
            // ... partitioned by the record's own model ...
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: '{model: .model}' },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
            // ... one per line (the processor's default delimiter is a newline).
            { type: 'AppendDelimiterToRecord' },
          ],
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: this.errorLogGroup.logGroupName,
          logStreamName: errorStream.logStreamName,
        },
      },
    });
    // Firehose checks its role when the stream is created: the policy must exist first.
    this.deliveryStream.node.addDependency(this.deliveryRole);
    this.deliveryStreamName = this.deliveryStream.ref;
    this.bufferingInterval = Duration.seconds(bufferingSeconds);

    this.subscriptionRole = new iam.Role(this, 'SubscriptionRole', {
      assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': props.logGroup.logGroupArn },
        },
      }),
      description: "CloudWatch Logs: sends the inference function's capture lines to the capture stream",
    });
    this.subscriptionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        resources: [this.deliveryStream.attrArn],
      }),
    );
    // L1 because the L2 destination takes an IDeliveryStream, and importing one adds an unused
    // Firehose CIDR mapping to the template (a CloudFormation validation warning).
    this.subscriptionFilter = new logs.CfnSubscriptionFilter(this, 'Subscription', {
      logGroupName: props.logGroup.logGroupName,
      filterPattern: CAPTURE_FILTER_PATTERN,
      destinationArn: this.deliveryStream.attrArn,
      roleArn: this.subscriptionRole.roleArn,
    });
    // CloudWatch Logs test-delivers when the filter is created: the role's policy must exist first.
    this.subscriptionFilter.node.addDependency(this.subscriptionRole);
  }
}
