import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BATCH_PREFIX, BATCH_RESULTS_PREFIX } from '../../core/contracts/buckets';
import { batchTransformDefinition } from './batch-transform-definition';
import { deadLetterQueue } from './dead-letter-queue';
import { PlatformFunction } from './platform-function';
import { acknowledgeResourceWildcards, grantObjects } from './least-privilege';
import { PROJECT_ROOT } from './project-root';

const BATCH_ENTRY = join(PROJECT_ROOT, 'lambdas', 'batch', 'handler.ts');

/** 10 children of one vCPU each: well inside a new account's 1,000 concurrent executions, raise with the quota. */
const DEFAULT_BATCH_MAX_CONCURRENCY = 10;
/** Step Functions' ceiling for a Distributed Map's concurrency. */
export const MAX_BATCH_MAX_CONCURRENCY = 10_000;

export interface BatchTransformProps {
  /** Uploads under batch/<model>/ are read; results and reports go under batch-results/. */
  readonly dataBucket: s3.IBucket;
  /** The registry the champion is read from. */
  readonly modelBucket: s3.IBucket;
  /**
   * @default 1769 - one full vCPU: onnxruntime and the parser are CPU-bound, and scoring is
   * single-threaded per chunk, so more memory buys nothing
   */
  readonly memorySize?: number;
  /** @default DEFAULT_BATCH_MAX_CONCURRENCY (10) */
  readonly maxConcurrency?: number;
  /** @default 4 - four 8 MiB chunks per child: ~0.5M ai4i rows, a few seconds of work per invocation */
  readonly chunksPerBatch?: number;
  /** @default 0 - a failed chunk fails the job (its rows would otherwise be missing from the results) */
  readonly toleratedFailurePercentage?: number;
  /** @default 5 minutes */
  readonly timeout?: Duration;
  /** @default - one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default BATCH_ENTRY */
  readonly entry?: string;
}

/** Validates props first (every problem named with what was received). */
function batchSettings(props: BatchTransformProps) {
  const maxConcurrency = props.maxConcurrency ?? DEFAULT_BATCH_MAX_CONCURRENCY;
  const chunksPerBatch = props.chunksPerBatch ?? 4;
  const tolerated = props.toleratedFailurePercentage ?? 0;
  const memorySize = props.memorySize ?? 1769;
  const problems: string[] = [];
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_BATCH_MAX_CONCURRENCY)
    problems.push(
      `maxConcurrency must be a whole number from 1 to ${MAX_BATCH_MAX_CONCURRENCY}, got ${maxConcurrency}`,
    );
  if (!Number.isInteger(chunksPerBatch) || chunksPerBatch < 1 || chunksPerBatch > 100)
    problems.push(`chunksPerBatch must be a whole number from 1 to 100, got ${chunksPerBatch}`);
  if (!(tolerated >= 0 && tolerated <= 100))
    problems.push(`toleratedFailurePercentage must be from 0 to 100, got ${tolerated}`);
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)
    problems.push(`memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`);
  if (problems.length > 0) throw new Error(`BatchTransform: ${problems.join('; ')}`);
  return { maxConcurrency, chunksPerBatch, tolerated, memorySize, timeout: props.timeout ?? Duration.minutes(5) };
}

/**
 * Batch transform: a file created under batch/<model>/ in the data bucket is scored by the
 * model's champion (pinned at the job's start) through a Step Functions Distributed Map, results
 * and a report under batch-results/<model>/<job>/ (see lib/constructs/batch-transform-definition.ts).
 */
export class BatchTransform extends Construct {
  public readonly fn: PlatformFunction;
  public readonly stateMachine: sfn.StateMachine;
  /** Starts a job for every object created under batch/. */
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: BatchTransformProps) {
    super(scope, id);
    const settings = batchSettings(props);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.fn = new PlatformFunction(this, 'Function', {
      entry: props.entry ?? BATCH_ENTRY,
      purpose: 'batch transform function',
      invokedSynchronouslyBy: "by the batch state machine's Lambda tasks, which retry and catch its errors",
      // Scores with onnxruntime: x86_64, as for inference.
      architecture: lambda.Architecture.X86_64,
      onnxRuntime: true,
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      logRetention: retention,
      environment: {
        DATA_BUCKET: props.dataBucket.bucketName,
        MODEL_BUCKET: props.modelBucket.bucketName,
      },
    });
    // Uploads are read, never moved or deleted; everything a job writes is under batch-results/.
    this.fn.grantObjects(props.dataBucket, BATCH_PREFIX, ['s3:GetObject']);
    this.fn.grantObjects(props.dataBucket, BATCH_RESULTS_PREFIX, ['s3:GetObject', 's3:PutObject']);
    this.fn.grantList(props.dataBucket, [BATCH_RESULTS_PREFIX]);
    this.fn.grantReadModels(props.modelBucket);

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        batchTransformDefinition(this, {
          fn: this.fn,
          maxConcurrency: settings.maxConcurrency,
          chunksPerBatch: settings.chunksPerBatch,
          toleratedFailurePercentage: settings.tolerated,
          taskTimeout: settings.timeout,
        }),
      ),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention }),
        // Every transition, without the data: a 1e9-row job is ~2,000 child executions of a few
        // states (megabytes of logs); the rows and chunk inputs stay out of the logs.
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    // The ItemReader reads the chunk plan (batch-results/.../chunks.json) with the state machine's role.
    grantObjects(props.dataBucket, this.stateMachine, BATCH_RESULTS_PREFIX, ['s3:GetObject']);
    // Also the DistributedMapPolicy CDK adds: Start/Describe/Stop of this state machine's own child
    // executions, whose ARNs are only known as execution:<machine>:* (and /*:* for Map runs).
    acknowledgeResourceWildcards(
      this.stateMachine,
      "batch state machine role and its Distributed Map's child executions",
    );

    const dlq = deadLetterQueue(this, 'StartDeadLetterQueue', 'batch uploads EventBridge could not start a job for');
    this.rule = new events.Rule(this, 'UploadRule', {
      description: `Starts a batch transform job for every object created under ${BATCH_PREFIX}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.dataBucket.bucketName] },
          object: { key: events.Match.prefix(BATCH_PREFIX) },
        },
      },
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            bucket: events.EventField.fromPath('$.detail.bucket.name'),
            key: events.EventField.fromPath('$.detail.object.key'),
            etag: events.EventField.fromPath('$.detail.object.etag'),
          }),
          deadLetterQueue: dlq,
          retryAttempts: 10,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}
