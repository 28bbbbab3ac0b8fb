import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { captureErrorsDayPrefix, captureObjectPrefix } from '../../core/monitoring/contract';
import { monitoringSettings } from '../../core/pipeline/model-spec';
import { captureRetentionRules } from '../../lib/constructs/capture-retention';
import { InferenceApi } from '../../lib/constructs/inference-api';
import { captureBufferingSeconds, InferenceCapture } from '../../lib/constructs/inference-capture';
import { captureDeliveryStaleSeconds } from '../../lib/monitoring/alarm-thresholds';
import { DataLoopMetrics } from '../../lib/monitoring/data-loop-metrics';
import { dashboardBody } from './dashboard-body';
import {
  actionsOf,
  dataLoopPlatform,
  keyPattern,
  logicalId,
  roleStatements,
  SPECS,
  type Statement,
} from './data-loop-platform';

/**
 * The capture path in AWS: the inference function's capture log lines -> a CloudWatch Logs
 * subscription filter -> Firehose (decompress, extract messages, partition by model) -> the data
 * bucket's capture/<model>/date=/hour=/; the retention of captures and feedback per model; and
 * what the inference function gets for capture and feedback (settings, one write grant).
 */

const p = dataLoopPlatform();
const inferenceStack = p.stacks.inference;
const functionLogGroup = logicalId(inferenceStack, inferenceStack.inference.fn.logGroup);
const deliveryStream = Object.keys(p.inference.findResources('AWS::KinesisFirehose::DeliveryStream'));
const stream = () => p.inference.findResources('AWS::KinesisFirehose::DeliveryStream')[deliveryStream[0]].Properties;
const destination = () => stream().ExtendedS3DestinationConfiguration;

describe('the capture path: log subscription -> Firehose -> capture/<model>/', () => {
  test("the inference function's own log group sends its capture lines, and nothing else, to the one capture stream", () => {
    expect(deliveryStream).toHaveLength(1);
    const filters = Object.values(p.inference.findResources('AWS::Logs::SubscriptionFilter'));
    expect(filters).toHaveLength(1);
    expect(filters[0].Properties).toEqual({
      LogGroupName: { Ref: functionLogGroup },
      FilterPattern: '{ $.kind = "inference-capture" }',
      DestinationArn: { 'Fn::GetAtt': [deliveryStream[0], 'Arn'] },
      RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/SubscriptionRole/), 'Arn'] },
    });
    // The function logs to that explicit group (the implicit /aws/lambda/<name> one would not exist at deploy).
    p.inference.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: functionLogGroup } },
      Environment: { Variables: Match.objectLike({ MAX_BATCH: '1000' }) },
    });
  });

  test("the stream unzips each Logs batch, keeps every event's message, partitions by the record's model and writes one JSON line per record", () => {
    expect(destination().ProcessingConfiguration.Enabled).toBe(true);
    expect(destination().ProcessingConfiguration.Processors).toEqual([
      { Type: 'Decompression', Parameters: [{ ParameterName: 'CompressionFormat', ParameterValue: 'GZIP' }] },
      {
        Type: 'CloudWatchLogProcessing',
        Parameters: [{ ParameterName: 'DataMessageExtraction', ParameterValue: 'true' }],
      },
      {
        Type: 'MetadataExtraction',
        Parameters: [
          { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{model: .model}' },
          { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
        ],
      },
      { Type: 'AppendDelimiterToRecord' },
    ]);
    expect(destination()).toMatchObject({
      DynamicPartitioningConfiguration: { Enabled: true },
      CompressionFormat: 'UNCOMPRESSED',
      FileExtension: '.jsonl',
      BucketARN: { 'Fn::ImportValue': expect.stringMatching(/DataBucket/) },
    });
  });

  test("objects land under the prefix the contract gives a model's captures of that hour; failures under capture-errors/ by error type", () => {
    const time = new Date('2026-03-04T05:06:07Z');
    const rendered = (destination().Prefix as string)
      .replace('!{partitionKeyFromQuery:model}', 'iris')
      .replace('!{timestamp:yyyy-MM-dd}', '2026-03-04')
      .replace('!{timestamp:HH}', '05');
    expect(rendered).toBe(captureObjectPrefix('iris', time));
    expect(destination().ErrorOutputPrefix).toBe(
      'capture-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/',
    );
    // ... which the monitoring job lists by the contract's key (core/monitoring/job.ts).
    const errors = (destination().ErrorOutputPrefix as string)
      .replace('!{firehose:error-output-type}', 'partitioning-failed')
      .replace('!{timestamp:yyyy-MM-dd}', '2026-03-04');
    expect(errors).toBe(captureErrorsDayPrefix('partitioning-failed', time));
  });

  test("buffers 300 s by default, at the 64 MB dynamic partitioning requires; other intervals within Firehose's 60..900 s", () => {
    expect(destination().BufferingHints).toEqual({ IntervalInSeconds: 300, SizeInMBs: 64 });
    const stack = new Stack(new App(), 'Capture');
    new InferenceCapture(stack, 'Capture', {
      logGroup: new logs.LogGroup(stack, 'Logs'),
      dataBucket: new s3.Bucket(stack, 'Data'),
      bufferingInterval: Duration.seconds(60),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: Match.objectLike({
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      }),
    });
  });

  test('fails at synth on a buffering interval Firehose refuses with dynamic partitioning, saying what fits', () => {
    expect(() => captureBufferingSeconds(Duration.seconds(30))).toThrow(/whole seconds from 60 to 900 .* got 30 s/);
    expect(() => captureBufferingSeconds(Duration.minutes(16))).toThrow(/got 960 s/);
    expect(() => captureBufferingSeconds(Duration.millis(90_500))).toThrow(/got 90.5 s/);
  });

  test("records are encrypted in the stream (AWS-owned key) and in S3 by the data bucket's SSE-S3, so no KMS key is granted", () => {
    expect(stream().DeliveryStreamEncryptionConfigurationInput).toEqual({ KeyType: 'AWS_OWNED_CMK' });
    expect(destination().EncryptionConfiguration).toEqual({ NoEncryptionConfig: 'NoEncryption' });
    p.storage.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    expect(
      roleStatements(p.inference, /CaptureDeliveryRole/)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('kms:')),
    ).toEqual([]);
  });
});

describe('CaptureDeliveryFailing: the capture stream stops delivering', () => {
  const monitoringStack = p.stacks.monitoring;
  const alarm = () => {
    const construct = monitoringStack.alarms.byId.CaptureDeliveryFailing;
    return (
      construct &&
      (p.monitoring.toJSON().Resources[logicalId(monitoringStack, construct)].Properties as Record<string, unknown>)
    );
  };
  const topic = { Ref: logicalId(monitoringStack, monitoringStack.alarmTopic) };

  test("alarms when the stream's oldest undelivered record is older than twice its buffering plus 5 minutes (900 s at 300 s), and says when it recovers", () => {
    expect(alarm()).toMatchObject({
      Metrics: [
        {
          Id: expect.any(String),
          ReturnData: true,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Firehose',
              MetricName: 'DeliveryToS3.DataFreshness',
              Dimensions: [
                {
                  Name: 'DeliveryStreamName',
                  Value: { 'Fn::ImportValue': expect.stringMatching(/CaptureDeliveryStream/) },
                },
              ],
            },
            Stat: 'Maximum',
            Period: 300,
          },
        },
      ],
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      // An idle stream reports no freshness at all: that is not a failure.
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
      AlarmDescription: expect.stringMatching(
        /more than 900 s .* Runbook: docs\/operations\.md, section CaptureDeliveryFailing\.$/,
      ),
    });
  });

  test("the threshold follows the stream's own buffering interval", () => {
    const stack = new Stack(new App(), 'Capture');
    const capture = new InferenceCapture(stack, 'Capture', {
      logGroup: new logs.LogGroup(stack, 'Logs'),
      dataBucket: new s3.Bucket(stack, 'Data'),
      bufferingInterval: Duration.seconds(60),
    });
    const buffering = new DataLoopMetrics({ capture }).captureBufferingSeconds();
    expect(buffering).toBe(60);
    expect(captureDeliveryStaleSeconds(buffering as number)).toBe(420);
    expect(new DataLoopMetrics({ capture: { deliveryStreamName: 'stream' } }).captureBufferingSeconds()).toBe(300);
    expect(new DataLoopMetrics().captureBufferingSeconds()).toBeUndefined();
  });

  test("the dashboard draws the alarm's line on the stream's freshness", () => {
    type Graph = { title?: string; annotations?: { horizontal?: { value: number; label: string; yAxis?: string }[] } };
    const graphs = dashboardBody(p.monitoring).widgets.map((w) => w.properties as Graph);
    const stream = graphs.find((g) => g.title?.startsWith('Capture stream'));
    expect(stream?.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: 900, label: 'delivery alarm', yAxis: 'right' }),
    ]);
  });
});

describe("the capture path's roles: least privilege", () => {
  test('Firehose may write capture/ and capture-errors/ of the data bucket and its own error log, and read nothing', () => {
    const statements = roleStatements(p.inference, /CaptureDeliveryRole/);
    const s3Statements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const objectWrites = s3Statements.filter((s) => actionsOf(s).includes('s3:PutObject'));
    expect(objectWrites.map((s) => keyPattern(s.Resource)).sort()).toEqual(['/capture-errors/*', '/capture/*']);
    const s3Actions = new Set(s3Statements.flatMap(actionsOf));
    for (const read of ['s3:GetObject', 's3:ListBucket', 's3:DeleteObject']) expect(s3Actions).not.toContain(read);
    // Every object action is on those two prefixes; the bucket itself only for its location.
    const bucketLevel = s3Statements.filter((s) => actionsOf(s).every((a) => a === 's3:GetBucketLocation'));
    expect(bucketLevel.map((s) => s.Resource)).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/DataBucket/) }]);
    expect(new Set(s3Statements.filter((s) => !bucketLevel.includes(s)).map((s) => keyPattern(s.Resource)))).toEqual(
      new Set(['/capture/*', '/capture-errors/*']),
    );
    const logWrites = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
    expect(logWrites.map((s) => s.Resource)).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/CaptureDeliveryErrors/), 'Arn'] },
    ]);
    p.inference.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'firehose.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ],
      },
    });
  });

  test('CloudWatch Logs may only put records into the capture stream, on behalf of the inference log group', () => {
    expect(roleStatements(p.inference, /CaptureSubscriptionRole/)).toEqual([
      {
        Effect: 'Allow',
        Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        Resource: { 'Fn::GetAtt': [deliveryStream[0], 'Arn'] },
      },
    ]);
    p.inference.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'logs.amazonaws.com' },
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [functionLogGroup, 'Arn'] } } }),
          }),
        ],
      },
    });
  });
});

describe('capture settings and feedback at the inference function', () => {
  const environment = () => {
    const fn = Object.values(p.inference.findResources('AWS::Lambda::Function')).find(
      (r) => r.Properties.Environment?.Variables?.CAPTURE_SETTINGS,
    );
    return fn?.Properties.Environment.Variables as Record<string, unknown>;
  };

  test("CAPTURE_SETTINGS holds every spec's capture settings; a model without a spec is not captured", () => {
    const settings = JSON.parse(environment().CAPTURE_SETTINGS as string) as Record<string, unknown>;
    expect(settings).toEqual({
      ...Object.fromEntries(SPECS.map((s) => [s.name, monitoringSettings(s).capture])),
      '*': { enabled: false, sampleRate: 0, retentionDays: 1 },
    });
    expect(settings.iris).toEqual({ enabled: true, sampleRate: 0.5, retentionDays: 7 });
    expect(settings.sentiment).toEqual({ enabled: false, sampleRate: 1, retentionDays: 14 });
    expect(environment().DATA_BUCKET).toEqual({ 'Fn::ImportValue': expect.stringMatching(/DataBucket/) });
  });

  test('the function may write feedback/ in the data bucket and nothing else there', () => {
    const onDataBucket = (s: Statement) => JSON.stringify(s.Resource).includes('DataBucket');
    const statements = roleStatements(p.inference, /InferenceFunctionRole/).filter(onDataBucket);
    expect(statements.map((s) => [actionsOf(s), keyPattern(s.Resource)])).toEqual([[['s3:PutObject'], '/feedback/*']]);
  });

  test('without a data bucket the API has no capture path, no DATA_BUCKET and no grant on it', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Inference');
    new InferenceApi(stack, 'Inference', { modelBucket: new s3.Bucket(stack, 'ModelBucket') });
    const t = Template.fromStack(stack);
    expect(t.findResources('AWS::KinesisFirehose::DeliveryStream')).toEqual({});
    expect(t.findResources('AWS::Logs::SubscriptionFilter')).toEqual({});
    const variables = Object.values(t.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
    expect(variables.DATA_BUCKET).toBeUndefined();
    expect(variables.CAPTURE_SETTINGS).toBeUndefined();
  });

  test('fails at synth when capture is listed without a data bucket, or a setting is out of range', () => {
    const synth = (props: Partial<ConstructorParameters<typeof InferenceApi>[2]>) => {
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Inference');
      new InferenceApi(stack, 'Inference', {
        modelBucket: new s3.Bucket(stack, 'ModelBucket'),
        dataBucket: new s3.Bucket(stack, 'DataBucket'),
        ...props,
      });
    };
    const capture = { enabled: true, sampleRate: 1, retentionDays: 30 };
    expect(() => synth({ dataBucket: undefined, capture: { iris: capture } })).toThrow(
      /capture lists iris but no dataBucket was given/,
    );
    expect(() => synth({ capture: { iris: { ...capture, sampleRate: 1.5 } } })).toThrow(
      /capture\["iris"\]\.sampleRate must be a share of requests from 0 to 1, got 1.5/,
    );
    expect(() => synth({ capture: { iris: { ...capture, retentionDays: 0 } } })).toThrow(
      /capture\["iris"\]\.retentionDays must be a whole number of days >= 1, got 0/,
    );
    expect(() => synth({ capture: { Iris: capture } })).toThrow(/model name "Iris" is not valid/);
  });
});

describe('retention of captured requests and feedback (data bucket lifecycle)', () => {
  type Rule = {
    Id: string;
    Prefix?: string;
    ExpirationInDays?: number;
    NoncurrentVersionExpiration?: { NoncurrentDays: number };
    Status: string;
  };
  const rules = Object.values(p.storage.findResources('AWS::S3::Bucket')).flatMap(
    (b) => (b.Properties.LifecycleConfiguration?.Rules ?? []) as Rule[],
  );
  const byPrefix = (prefix: string) => rules.filter((r) => r.Prefix === prefix);

  test("each model's capture/ and feedback/ expire after its spec's retentionDays, capture off included; old versions a day later", () => {
    expect(SPECS.length).toBeGreaterThan(2);
    for (const spec of SPECS) {
      const days = monitoringSettings(spec).capture.retentionDays;
      for (const prefix of [`capture/${spec.name}/`, `feedback/${spec.name}/`]) {
        expect({ prefix, rules: byPrefix(prefix) }).toEqual({
          prefix,
          rules: [
            expect.objectContaining({
              ExpirationInDays: days,
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
              Status: 'Enabled',
            }),
          ],
        });
      }
    }
    expect(byPrefix('capture/iris/')[0].ExpirationInDays).toBe(7);
    expect(byPrefix('feedback/sentiment/')[0].ExpirationInDays).toBe(14);
  });

  test('capture-errors/ (no model in its keys) expires after the shortest retention of all models', () => {
    expect(byPrefix('capture-errors/')).toEqual([
      expect.objectContaining({ ExpirationInDays: 7, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }),
    ]);
  });

  test('the rules live on the data bucket only', () => {
    const buckets = p.storage.findResources('AWS::S3::Bucket');
    const withRetention = Object.keys(buckets).filter((id) =>
      JSON.stringify(buckets[id].Properties.LifecycleConfiguration).includes('capture/'),
    );
    expect(withRetention).toEqual(['DataBucketBD860FE1']);
  });

  test('fails at synth on a retention that is not whole days >= 1 or a model name S3 keys cannot hold, naming each', () => {
    expect(() => captureRetentionRules({ iris: 0, 'Bad Name': 7, sentiment: 2.5 })).toThrow(
      /model name "Bad Name" is not valid[\s\S]*retention of "iris" must be a whole number of days >= 1 .* got 0[\s\S]*retention of "sentiment" .* got 2.5/,
    );
    expect(captureRetentionRules({})).toEqual([]);
  });
});
