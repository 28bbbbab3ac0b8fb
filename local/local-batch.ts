import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BATCH_PREFIX, batchJobId, modelOfBatchKey, reportKey } from '../core/batch/keys';
import type { ModelSpec } from '../core/pipeline/model-spec';
import { BatchTransform } from '../lib/constructs/batch-transform';
import { platformConfig } from '../lib/config';
import { withLocalDistributedMaps } from './distributed-map';
import { FunctionProcess } from './function-process';
import { LocalExecutions, type UploadedObject } from './pipeline-executions';
import { placeholderArn, renderedDefinition, type RunResult } from './state-machine';

/**
 * Batch transform on this machine: the definition the BatchTransform construct synthesises (with
 * cdk.json's platform.batch settings), run by the ASL interpreter with its Distributed Map
 * supplied by local/distributed-map.ts, its Lambda tasks bound to the real handler in child
 * processes (a small pool: the Map's children score in parallel as separate functions do).
 * Objects created under batch/<model>/ start a job as the EventBridge rule does; one execution
 * per object version (named by its job id).
 */

export type BatchEvent =
  | { readonly type: 'started'; readonly execution: string; readonly key: string }
  /** Children of a Distributed Map state ended (counted over every job this process ran). */
  | { readonly type: 'children'; readonly map: string; readonly done: number; readonly of: number }
  | { readonly type: 'finished'; readonly execution: string; readonly key: string; readonly result: RunResult };

export interface LocalBatchOptions {
  readonly specs: readonly ModelSpec[];
  readonly dataBucket: string;
  readonly modelBucket: string;
  readonly client: S3Client;
  /** The function's environment (buckets, S3 endpoint, credentials). */
  readonly functionEnv: Readonly<Record<string, string>>;
  /** Function processes scoring at once. @default 2 */
  readonly workers?: number;
  readonly onEvent?: (event: BatchEvent) => void;
  readonly onFunctionOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** @default 1000 */
  readonly retryIntervalMs?: number;
}

/** The BatchTransform's definition as `cdk deploy` ships it (cdk.json's platform.batch applied). */
function synthesisedBatchTransform(specs: readonly ModelSpec[]): { definition: object; functionArn: string } {
  const context = (
    JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }
  ).context;
  // Only platform.batch: the rest of the platform settings (defaultModel, ...) are not this machine's to check.
  const platform = context?.platform as { batch?: unknown } | undefined;
  const config = platformConfig({ batch: platform?.batch ?? {} }, specs);
  const app = new App({
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stack = new Stack(app, 'MlopsPipeline');
  const batch = new BatchTransform(stack, 'BatchTransform', {
    ...config.batch,
    dataBucket: s3.Bucket.fromBucketName(stack, 'DataBucket', 'data'),
    modelBucket: s3.Bucket.fromBucketName(stack, 'ModelBucket', 'models'),
  });
  return { definition: renderedDefinition(stack, batch.stateMachine), functionArn: placeholderArn(stack, batch.fn) };
}

export interface LocalBatchExecution {
  readonly name: string;
  readonly key: string;
  readonly result: Promise<RunResult>;
}

export class LocalBatch {
  private readonly pool: FunctionProcess[];
  private next = 0;
  private readonly executions: LocalExecutions;
  private readonly started = new Map<string, LocalBatchExecution>();
  private readonly running = new Set<Promise<RunResult>>();
  private readonly emit: (event: BatchEvent) => void;

  constructor(private readonly options: LocalBatchOptions) {
    this.emit = options.onEvent ?? (() => undefined);
    this.pool = Array.from(
      { length: Math.max(1, options.workers ?? 2) },
      () =>
        new FunctionProcess({
          module: join(__dirname, 'batch-worker.ts'),
          env: options.functionEnv,
          onLine: options.onFunctionOutput,
        }),
    );
    const { definition, functionArn } = synthesisedBatchTransform(options.specs);
    const invoke = async (payload: unknown) => {
      const event = (payload as { Payload?: unknown }).Payload ?? payload;
      const fn = this.pool[this.next++ % this.pool.length];
      return fn.invoke(event);
    };
    const counts = new Map<string, number>();
    const local = withLocalDistributedMaps(definition, {
      readObject: async (bucket, key) => {
        const out = await options.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await out.Body?.transformToString('utf8')) ?? '';
      },
      taskHandlers: { [functionArn]: invoke },
      retryIntervalMs: options.retryIntervalMs ?? 1000,
      onChild: (event) => {
        if (event.status === 'started') return;
        const done = (counts.get(event.map) ?? 0) + 1;
        counts.set(event.map, done);
        this.emit({ type: 'children', map: event.map, done, of: event.of });
      },
    });
    this.executions = new LocalExecutions(local.definition, {
      taskHandlers: local.taskHandlers,
      retryIntervalMs: options.retryIntervalMs ?? 1000,
    });
  }

  /**
   * What the EventBridge rule does for an object created under batch/: one job per object version.
   * Locally the execution is named by the job id (so a second start of it is the same execution);
   * `name` gives it another, as a second delivery of the event gets in AWS (where EventBridge
   * cannot name the execution): its Start finds the job claimed and it ends as 'duplicate'.
   */
  onObjectCreated(object: UploadedObject, name = batchJobId(object)): LocalBatchExecution | undefined {
    if (object.bucket !== this.options.dataBucket || !object.key.startsWith(BATCH_PREFIX)) return undefined;
    if (object.key.endsWith('/')) return undefined;
    const started = this.executions.start({ bucket: object.bucket, key: object.key, etag: object.etag }, name);
    if (!started.started) return this.started.get(name);
    const execution: LocalBatchExecution = { name, key: object.key, result: started.result };
    this.started.set(name, execution);
    this.running.add(started.result);
    this.emit({ type: 'started', execution: name, key: object.key });
    void started.result.then(
      (result) => {
        this.running.delete(started.result);
        this.emit({ type: 'finished', execution: name, key: object.key, result });
      },
      () => this.running.delete(started.result),
    );
    return execution;
  }

  /** Whether the key is the batch transform's (the caller then gives it to no one else). */
  handles(object: UploadedObject): boolean {
    return object.bucket === this.options.dataBucket && object.key.startsWith(BATCH_PREFIX);
  }

  /**
   * Uploads under batch/ whose job has no report yet (the platform stopped mid-job) start again:
   * the same object version is the same job, which keeps the version it pinned and overwrites
   * its parts by chunk index, so nothing is duplicated. Returns the jobs started.
   */
  async resumeUnfinished(): Promise<LocalBatchExecution[]> {
    const resumed: LocalBatchExecution[] = [];
    let token: string | undefined;
    do {
      const page = await this.options.client.send(
        new ListObjectsV2Command({ Bucket: this.options.dataBucket, Prefix: BATCH_PREFIX, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const model = object.Key ? modelOfBatchKey(object.Key) : undefined;
        if (!object.Key || !object.ETag || model === undefined) continue;
        const upload = { bucket: this.options.dataBucket, key: object.Key, etag: object.ETag.replace(/"/g, '') };
        const report = reportKey(model, batchJobId(upload));
        const done = await this.options.client
          .send(new HeadObjectCommand({ Bucket: this.options.dataBucket, Key: report }))
          .then(
            () => true,
            () => false,
          );
        const started = done ? undefined : this.onObjectCreated(upload);
        if (started) resumed.push(started);
      }
      token = page.NextContinuationToken;
    } while (token);
    return resumed;
  }

  find(name: string): LocalBatchExecution | undefined {
    return this.started.get(name);
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((fn) => fn.close()));
  }
}
