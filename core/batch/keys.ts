import { createHash } from 'node:crypto';
import { isValidName } from '../registry/keys';

/**
 * Where batch transform reads and writes in the data bucket:
 *
 *   batch/<model>/<file>                                 the upload (left in place, never moved)
 *   batch-results/<model>/<job>/claim.json               which execution runs the job (first writer wins)
 *   batch-results/<model>/<job>/duplicates/<execution>.json  an execution that found the job claimed
 *   batch-results/<model>/<job>/job.json                 the job record: source, layout, pinned version
 *   batch-results/<model>/<job>/chunks.json              the chunk plan the Distributed Map reads
 *   batch-results/<model>/<job>/summaries/<index>.json   what each chunk scored and refused
 *   batch-results/<model>/<job>/results/part-<index>.<ext>  scored rows of one chunk, in input order
 *   batch-results/<model>/<job>/report.json              the outcome (written last)
 */
export const BATCH_PREFIX = 'batch/';
export const BATCH_RESULTS_PREFIX = 'batch-results/';

/** The model a batch upload is for: batch/<model>/<file>; undefined for any other key. */
export function modelOfBatchKey(key: string): string | undefined {
  if (!key.startsWith(BATCH_PREFIX) || key.endsWith('/')) return undefined;
  const parts = key.slice(BATCH_PREFIX.length).split('/');
  return parts.length >= 2 ? parts[0] : undefined;
}

/**
 * One job per object version: the same bucket, key and ETag always give the same id (and the
 * same Step Functions execution name), so a duplicate event or a second start is one job.
 */
export function batchJobId(object: { readonly bucket: string; readonly key: string; readonly etag: string }): string {
  const digest = createHash('sha256')
    .update(`${object.bucket}/${object.key}#${object.etag.replace(/"/g, '')}`)
    .digest('hex')
    .slice(0, 24);
  const file = (object.key.split('/').pop() ?? 'upload').replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40);
  return `${file}-${digest}`;
}

/** Job ids come from batchJobId: a safe key segment. */
function isJobId(job: string): boolean {
  return /^[A-Za-z0-9_-]{1,80}$/.test(job);
}

const jobPrefix = (model: string, job: string) => {
  if (!isValidName(model) || !isJobId(job)) throw new Error(`not a batch job: model "${model}", job "${job}"`);
  return `${BATCH_RESULTS_PREFIX}${model}/${job}/`;
};
export const jobRecordKey = (model: string, job: string) => `${jobPrefix(model, job)}job.json`;
export const claimKey = (model: string, job: string) => `${jobPrefix(model, job)}claim.json`;
/** Execution names are [A-Za-z0-9_-] (at most 80) in Step Functions; anything else is replaced. */
export const duplicateKey = (model: string, job: string, execution: string) =>
  `${jobPrefix(model, job)}duplicates/${execution.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80)}.json`;
export const chunkPlanKey = (model: string, job: string) => `${jobPrefix(model, job)}chunks.json`;
export const reportKey = (model: string, job: string) => `${jobPrefix(model, job)}report.json`;
export const summariesPrefix = (model: string, job: string) => `${jobPrefix(model, job)}summaries/`;
export const resultsPrefix = (model: string, job: string) => `${jobPrefix(model, job)}results/`;
const pad = (index: number) => String(index).padStart(6, '0');
export const summaryKey = (model: string, job: string, index: number) =>
  `${summariesPrefix(model, job)}${pad(index)}.json`;
export const resultPartKey = (model: string, job: string, index: number, format: 'csv' | 'jsonl') =>
  `${resultsPrefix(model, job)}part-${pad(index)}.${format}`;
