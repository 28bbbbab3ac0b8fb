/**
 * Key naming for the pipeline's objects (pure). Data bucket:
 *   incoming/<model>/<file>                          uploads (the trigger)
 *   processed/<model>/<time>-<etag>-<stem>.csv       clean copies (+ .report.json, and .rows: the rows' identities)
 *   processed/<model>/<time>-<etag>-<stem>.report.json alone: an upload whose rows were all there already
 *   quarantine/<model>/<file>                        rejected originals (+ <file>.report.json)
 *   claims/<model>/<etag>-<stem>.json                which execution handles an object version
 * Model bucket: runs/<model>/<runId>/{candidates/<algorithm>/,summary.json,failure.json}.
 * The etag in a processed key is what makes validate idempotent: a redelivered event finds the copy.
 */

import { CLAIMS_PREFIX, INCOMING_PREFIX, PROCESSED_PREFIX, QUARANTINE_PREFIX } from '../../core/contracts/buckets';

export { INCOMING_PREFIX };

export const processedPrefix = (model: string) => `${PROCESSED_PREFIX}${model}/`;
const quarantinePrefix = (model: string) => `${QUARANTINE_PREFIX}${model}/`;
export {
  candidatePrefix,
  comparisonRowsKey,
  dataManifestKey,
  failureKey,
  noNewDataKey,
  snapshotKey,
  summaryKey,
} from '../../core/pipeline/runs';
import { PipelineInputError } from '../../core/pipeline/errors';

/** Splits incoming/<model>/<file>; undefined when the key is not of that form. */
export function parseIncomingKey(key: string): { model: string; file: string } | undefined {
  const match = /^incoming\/([^/]+)\/(.+)$/.exec(key);
  if (!match || match[2].endsWith('/')) return undefined;
  return { model: match[1], file: match[2] };
}

/** A key-safe form of a file name or id: nested folders flattened, odd characters replaced. */
export function safeSegment(text: string): string {
  return text.replace(/\//g, '_').replace(/[^A-Za-z0-9._=-]/g, '_');
}

/** S3 ETags may be quoted and (multipart) contain "-": only the hex part goes into keys. */
export function etagToken(etag: string): string {
  return etag.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
}

/** 2026-11-23T14:13:42.123Z -> 20261123T141342Z: sorts by time, no characters S3 tools dislike. */
export function compactTime(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function stem(file: string): string {
  const flat = safeSegment(file);
  return flat.replace(/\.[A-Za-z0-9]{1,5}$/, '') || flat;
}

export function processedKey(model: string, file: string, etag: string, at: Date): string {
  return `${processedPrefix(model)}${compactTime(at)}-${etagToken(etag)}-${stem(file)}.csv`;
}

/** The processed copy of this upload (same etag and file), if one of `keys` is it. */
export function findProcessedKey(
  keys: readonly string[],
  model: string,
  file: string,
  etag: string,
): string | undefined {
  const suffix = `-${etagToken(etag)}-${stem(file)}.csv`;
  return keys.find((k) => k.startsWith(processedPrefix(model)) && k.endsWith(suffix));
}

export const processedReportKey = (key: string) => key.replace(/\.csv$/, '.report.json');
/** The sidecar with the identities of a processed file's rows (core/pipeline/row-index.ts). */
export const processedRowsKey = (key: string) => key.replace(/\.csv$/, '.rows');

/** Reports of this upload (same etag and file) among `keys` that have no processed data beside them. */
export function findDataLessReportKeys(keys: readonly string[], model: string, file: string, etag: string): string[] {
  const suffix = `-${etagToken(etag)}-${stem(file)}.report.json`;
  const data = new Set(keys.filter(isProcessedData));
  return keys.filter(
    (k) =>
      k.startsWith(processedPrefix(model)) && k.endsWith(suffix) && !data.has(k.replace(/\.report\.json$/, '.csv')),
  );
}

/** When a processed key was written, from its <time> prefix; undefined for a key not of that form. */
export function processedAt(key: string): Date | undefined {
  const match = /\/(\d{8})T(\d{6})Z-[^/]*$/.exec(key);
  if (!match) return undefined;
  const [d, t] = [match[1], match[2]];
  return new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4)}Z`);
}

/** claims/<model>/<etag>-<stem>.json: which execution handles this object version (first writer wins). */
export const claimKey = (model: string, file: string, etag: string) =>
  `${CLAIMS_PREFIX}${model}/${etagToken(etag)}-${stem(file)}.json`;
export const isProcessedData = (key: string) => key.endsWith('.csv');

/** quarantine/<model>/<file>; with an etag, the key for a second, different upload of that file name. */
export const quarantineKey = (model: string, file: string, etag?: string) =>
  `${quarantinePrefix(model)}${etag === undefined ? '' : `${etagToken(etag)}-`}${safeSegment(file)}`;
export const quarantineReportKey = (key: string) => `${key}.report.json`;

/** Execution names are at most 80 characters of [A-Za-z0-9-_]; the run id is the name, made key-safe. */
export function runIdFor(execution: string): string {
  const id = safeSegment(execution.trim()).slice(0, 128);
  if (id === '' || /^\.+$/.test(id))
    throw new PipelineInputError(`execution name "${execution}" cannot be used as a run id`);
  return id;
}
