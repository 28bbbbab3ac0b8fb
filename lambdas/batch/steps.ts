import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type ChunkRange, planChunks, readChunkLines } from '../../core/batch/chunks';
import {
  BATCH_PREFIX,
  batchJobId,
  chunkPlanKey,
  claimKey,
  duplicateKey,
  jobRecordKey,
  modelOfBatchKey,
  reportKey,
  resultPartKey,
  summariesPrefix,
  summaryKey,
} from '../../core/batch/keys';
import { BadBatchInputError, detectLayout } from '../../core/batch/layout';
import { type BatchJob, type BatchReport, buildReport, type ChunkSummary } from '../../core/batch/report';
import type { InputTensor } from '../../core/features';
import type { ModelManifest } from '../../core/manifest';
import { createSession, toOrtFeeds } from '../../core/onnx-session';
import { type ObjectStore, PreconditionFailedError } from '../../core/object-store';
import { DEFAULT_ALIAS, type ModelSource } from '../../core/registry/types';
import { OnnxBackend } from '../inference/backends/onnx';
import type { FeatureRow } from '../inference/backends/types';
import { CONFIG_DEFAULTS } from '../inference/config';
import { instanceValidator, type InstanceValidator } from '../inference/request';
import { scoreChunk } from './score';

/**
 * The batch transform's steps, as the state machine calls them (lambdas/batch/handler.ts):
 *   start  {bucket, key, etag, execution} -> claims the job (or ends as 'duplicate'), pins the
 *                                        champion's version, writes job.json and chunks.json
 *   score  {BatchInput, Items: chunks}  -> one results part + one summary per chunk (keyed by index)
 *   finish {model, job}                 -> report.json from the summaries
 *   fail   {model, job, bucket, key, etag, error} -> report.json saying the job broke
 * Every write is keyed by the job and the chunk index, so re-running any step overwrites, never duplicates.
 */

export interface BatchDeps {
  readonly s3: S3Client;
  /** The data bucket (uploads under batch/, results under batch-results/). */
  readonly data: ObjectStore;
  readonly dataBucket: string;
  readonly registry: ModelSource;
  /** Bytes per chunk (the unit the Distributed Map hands out). */
  readonly chunkBytes: number;
  readonly now?: () => Date;
}

export interface StartInput {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  /**
   * $$.Execution.Name (the state machine passes it): the job is claimed for it. Without one (a
   * direct call: the benchmark) the job is not claimed.
   */
  readonly execution?: string;
}

export type StartOutput =
  | {
      readonly status: 'started';
      readonly job: string;
      readonly model: string;
      readonly version: number;
      readonly chunkPlanKey: string;
      readonly chunks: number;
    }
  | {
      readonly status: 'refused';
      readonly job: string;
      readonly model: string;
      readonly reportKey: string;
      readonly reason: string;
    }
  | {
      /** Another execution holds the job (a second delivery of the same event): nothing scored. */
      readonly status: 'duplicate';
      readonly job: string;
      readonly model: string;
      readonly handledBy: string;
      readonly recordKey: string;
    };

interface Claim {
  readonly execution: string;
  readonly claimedAt: string;
}

const readJson = <T>(stored: { readonly body: Uint8Array }) =>
  JSON.parse(Buffer.from(stored.body).toString('utf8')) as T;

/**
 * Claims the job for `execution` (a conditional create of claim.json: first writer wins, as the
 * retraining pipeline claims an upload) and returns the execution that holds it. EventBridge
 * delivers at least once and cannot name the execution, so a duplicate event starts a second
 * execution of the same job: it finds the claim held and ends as 'duplicate'. The claim is taken
 * over (conditionally on the claim read, so two takers cannot both win) when the holder is this
 * execution (a retried Start; the local platform's restart, which reuses the job id as the
 * execution name) or when the job's report says the holder failed (its RecordFailure ran: a
 * re-run after a failure). An execution stopped without RecordFailure (aborted, timed out) keeps its claim:
 * delete claim.json to re-run that job (docs/architecture.md).
 */
async function claimJob(deps: BatchDeps, model: string, job: string, execution: string): Promise<string> {
  const key = claimKey(model, job);
  const body = json({ execution, claimedAt: (deps.now ?? (() => new Date()))().toISOString() } satisfies Claim);
  const options = { contentType: 'application/json' };
  try {
    await deps.data.put(key, body, { ...options, condition: { ifNoneMatch: '*' } });
    return execution;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const existing = await deps.data.get(key);
  if (!existing) return claimJob(deps, model, job, execution);
  const holder = readJson<Partial<Claim>>(existing).execution;
  if (typeof holder !== 'string') throw new Error(`${key} exists but names no execution`);
  if (holder === execution) return execution;
  const report = await deps.data.get(reportKey(model, job));
  // Only the holder's own failure frees the job (a failed report left by an earlier holder does not).
  const failed = report && readJson<BatchReport>(report);
  if (!failed || failed.status !== 'failed' || failed.failedExecution !== holder) return holder;
  try {
    await deps.data.put(key, body, { ...options, condition: { ifMatch: existing.etag } });
    return execution;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    return claimJob(deps, model, job, execution);
  }
}

/** What the Distributed Map's ItemBatcher hands each child: BatchInput + a batch of chunk ranges. */
export interface ScoreInput {
  readonly BatchInput: { readonly model: string; readonly job: string };
  readonly Items: readonly ChunkRange[];
}

const HEAD_BYTES = 64 * 1024;

/**
 * Bytes [start, end) of the job's object, only while it is still the version the job started on
 * (IfMatch on its ETag): a file replaced under the same key mid-job fails the read (412), never
 * scores the new bytes against the old plan.
 */
async function readRange(
  s3: S3Client,
  source: { readonly bucket: string; readonly key: string; readonly etag: string },
  start: number,
  end: number,
): Promise<Uint8Array> {
  if (end <= start) return new Uint8Array();
  const out = await s3.send(
    new GetObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      IfMatch: source.etag,
      Range: `bytes=${start}-${end - 1}`,
    }),
  );
  return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
}

const json = (value: unknown) => JSON.stringify(value, null, 1);

export async function startJob(deps: BatchDeps, input: StartInput): Promise<StartOutput> {
  const now = deps.now ?? (() => new Date());
  const etag = input.etag.replace(/"/g, '');
  const job = batchJobId({ bucket: input.bucket, key: input.key, etag });
  const model = modelOfBatchKey(input.key);
  if (input.bucket !== deps.dataBucket || model === undefined)
    throw new Error(
      `not a batch upload: s3://${input.bucket}/${input.key} (expected ${BATCH_PREFIX}<model>/<file> in ${deps.dataBucket})`,
    );
  const source = { bucket: input.bucket, key: input.key, etag };
  const refuse = async (code: BadBatchInputError['code'], message: string): Promise<StartOutput> => {
    const at = now().toISOString();
    const report: BatchReport = {
      job,
      model,
      status: 'refused',
      source,
      reason: { code, message },
      rowsIn: 0,
      rowsScored: 0,
      rowsRefused: 0,
      refused: [],
      results: [],
      timings: { startedAt: at, finishedAt: at, seconds: 0, chunkSeconds: 0 },
    };
    const key = reportKey(model, job);
    await deps.data.put(key, json(report), { contentType: 'application/json' });
    return { status: 'refused', job, model, reportKey: key, reason: `${code}: ${message}` };
  };

  if (input.execution !== undefined) {
    const holder = await claimJob(deps, model, job, input.execution);
    if (holder !== input.execution) {
      const recordKey = duplicateKey(model, job, input.execution);
      await deps.data.put(
        recordKey,
        json({ execution: input.execution, handledBy: holder, source, at: now().toISOString() }),
        { contentType: 'application/json' },
      );
      return { status: 'duplicate', job, model, handledBy: holder, recordKey };
    }
  }
  // A restarted job keeps the version it pinned at its first start (the same object version is the same job).
  const previous = await deps.data.get(jobRecordKey(model, job));
  if (previous) {
    const record = JSON.parse(Buffer.from(previous.body).toString('utf8')) as BatchJob;
    return {
      status: 'started',
      job,
      model,
      version: record.version,
      chunkPlanKey: chunkPlanKey(model, job),
      chunks: record.chunks,
    };
  }
  const alias = await deps.registry.resolveAlias(model, DEFAULT_ALIAS).catch(() => undefined);
  if (alias === undefined || alias === 'unchanged')
    return refuse('unknown_model', `no model "${model}" with a ${DEFAULT_ALIAS} in the registry`);
  const version = alias.record.version;
  const manifest = await deps.registry.getManifest(model, version);
  const head = await deps.s3.send(new HeadObjectCommand({ Bucket: input.bucket, Key: input.key, IfMatch: etag }));
  const size = head.ContentLength ?? 0;
  const first = Buffer.from(
    await readRange(deps.s3, { bucket: input.bucket, key: input.key, etag }, 0, Math.min(size, HEAD_BYTES)),
  );
  let layout;
  try {
    layout = detectLayout(input.key, first.toString('utf8'), manifest.features);
  } catch (error) {
    if (error instanceof BadBatchInputError) return refuse(error.code, error.message);
    throw error;
  }
  const chunks = planChunks(size, deps.chunkBytes);
  const record: BatchJob = {
    job,
    model,
    version,
    source: { ...source, size },
    layout,
    classes: manifest.classes,
    chunkBytes: deps.chunkBytes,
    chunks: chunks.length,
    startedAt: now().toISOString(),
  };
  // The plan first, the record last: a job.json always has its plan.
  await deps.data.put(chunkPlanKey(model, job), JSON.stringify(chunks), { contentType: 'application/json' });
  await deps.data.put(jobRecordKey(model, job), json(record), { contentType: 'application/json' });
  return { status: 'started', job, model, version, chunkPlanKey: chunkPlanKey(model, job), chunks: chunks.length };
}

interface OpenModel {
  readonly predict: (rows: readonly FeatureRow[]) => Promise<number[][]>;
  readonly validate: InstanceValidator;
  readonly features: ModelManifest['features'];
  readonly predictInputs: (inputs: Record<string, InputTensor>) => Promise<ArrayLike<number>>;
}

/** Opened versions, by model@version: a warm function scores its next batch without reloading. */
const opened = new Map<string, Promise<OpenModel>>();

async function openVersion(registry: ModelSource, model: string, version: number): Promise<OpenModel> {
  const id = `${model}@${version}`;
  let open = opened.get(id);
  if (!open) {
    open = (async () => {
      const [manifest, onnx] = await Promise.all([
        registry.getManifest(model, version),
        registry.getModelBytes(model, version),
      ]);
      const predictor = await new OnnxBackend().open({ manifest, onnx });
      const validate = instanceValidator(manifest.features, {
        maxBatch: Number.MAX_SAFE_INTEGER,
        maxBodyBytes: Number.MAX_SAFE_INTEGER,
        maxTextChars: CONFIG_DEFAULTS.maxTextChars,
      });
      // The CSV hot path feeds tensors straight to its own session (no per-row objects).
      const session = await createSession(onnx);
      const output = manifest.outputs.probabilities;
      const predictInputs = async (inputs: Record<string, InputTensor>) =>
        (await session.run(toOrtFeeds(inputs), [output]))[output].data as Float32Array;
      return { predict: (rows) => predictor.predict(rows), predictInputs, validate, features: manifest.features };
    })();
    open.catch(() => opened.delete(id));
    opened.set(id, open);
  }
  return open;
}

async function readJob(deps: BatchDeps, model: string, job: string): Promise<BatchJob> {
  const stored = await deps.data.get(jobRecordKey(model, job));
  if (!stored) throw new Error(`batch job ${model}/${job} has no job record`);
  return JSON.parse(Buffer.from(stored.body).toString('utf8')) as BatchJob;
}

/** Scores a batch of chunks; each writes its results part and then its summary (overwritten on a re-run). */
export async function scoreChunks(
  deps: BatchDeps,
  input: ScoreInput,
): Promise<{ chunks: number; rows: number; scored: number }> {
  const { model, job } = input.BatchInput;
  const record = await readJob(deps, model, job);
  const open = await openVersion(deps.registry, model, record.version);
  let rows = 0;
  let scored = 0;
  for (const chunk of input.Items) {
    const started = performance.now();
    const { size } = record.source;
    const lines = await readChunkLines((s, e) => readRange(deps.s3, record.source, s, e), chunk, size);
    const result = await scoreChunk(lines, {
      layout: record.layout,
      features: open.features,
      classes: record.classes,
      validate: open.validate,
      predict: open.predict,
      predictInputs: open.predictInputs,
      firstChunk: chunk.index === 0,
    });
    let part: string | undefined;
    if (result.output.length > 0) {
      part = resultPartKey(model, job, chunk.index, record.layout.format);
      await deps.data.put(part, result.output, {
        contentType: record.layout.format === 'csv' ? 'text/csv' : 'application/x-ndjson',
      });
    }
    const summary: ChunkSummary = {
      index: chunk.index,
      lines: result.lines,
      rows: result.rows,
      scored: result.scored,
      refused: result.refused,
      part,
      seconds: (performance.now() - started) / 1000,
    };
    await deps.data.put(summaryKey(model, job, chunk.index), JSON.stringify(summary), {
      contentType: 'application/json',
    });
    rows += result.rows;
    scored += result.scored;
  }
  return { chunks: input.Items.length, rows, scored };
}

export async function finishJob(
  deps: BatchDeps,
  input: { readonly model: string; readonly job: string },
): Promise<{
  status: 'succeeded' | 'partial';
  reportKey: string;
  rowsIn: number;
  rowsScored: number;
  rowsRefused: number;
}> {
  const record = await readJob(deps, input.model, input.job);
  const keys = await deps.data.list(summariesPrefix(input.model, input.job));
  const summaries = await Promise.all(
    keys.map(
      async (k) => JSON.parse(Buffer.from((await deps.data.get(k))?.body ?? '').toString('utf8')) as ChunkSummary,
    ),
  );
  const report = buildReport(record, summaries, (deps.now ?? (() => new Date()))());
  const key = reportKey(input.model, input.job);
  await deps.data.put(key, json(report), { contentType: 'application/json' });
  return {
    status: report.status === 'partial' ? 'partial' : 'succeeded',
    reportKey: key,
    rowsIn: report.rowsIn,
    rowsScored: report.rowsScored,
    rowsRefused: report.rowsRefused,
  };
}

/** The failure record: the report says the job broke and why; results already written stay (see docs). */
export async function recordFailure(
  deps: BatchDeps,
  input: StartInput & { readonly error?: { readonly Error?: string; readonly Cause?: string } },
): Promise<{ status: 'failed'; reportKey?: string }> {
  const model = modelOfBatchKey(input.key);
  if (model === undefined) return { status: 'failed' };
  const etag = input.etag.replace(/"/g, '');
  const job = batchJobId({ bucket: input.bucket, key: input.key, etag });
  // An execution that never held the job (its Start broke before or while claiming) must not
  // mark as failed the job another execution is running.
  if (input.execution !== undefined) {
    // A claim that cannot be read is an error (the step's Retry), not "no holder": guessing would
    // let a duplicate execution mark the holder's running job as failed.
    const claim = await deps.data.get(claimKey(model, job));
    const holder = claim && readJson<Partial<Claim>>(claim).execution;
    if (holder !== undefined && holder !== input.execution) return { status: 'failed' };
  }
  const previous = await deps.data.get(jobRecordKey(model, job)).catch(() => undefined);
  const record = previous ? (JSON.parse(Buffer.from(previous.body).toString('utf8')) as BatchJob) : undefined;
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const report: BatchReport = {
    job,
    model,
    status: 'failed',
    failedExecution: input.execution,
    version: record?.version,
    source: { bucket: input.bucket, key: input.key, etag },
    reason: {
      code: 'job_failed',
      message: `${input.error?.Error ?? 'Error'}: ${input.error?.Cause ?? 'unknown cause'}`,
    },
    rowsIn: 0,
    rowsScored: 0,
    rowsRefused: 0,
    refused: [],
    results: [],
    timings: { startedAt: record?.startedAt ?? at, finishedAt: at, seconds: 0, chunkSeconds: 0 },
  };
  const key = reportKey(model, job);
  await deps.data.put(key, json(report), { contentType: 'application/json' });
  return { status: 'failed', reportKey: key };
}
