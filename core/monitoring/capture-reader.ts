import { gunzipSync } from 'node:zlib';
import type { FeedbackRecord } from './contract';

/**
 * Reads the objects the capture path and the feedback endpoint write, tolerating every form the
 * delivery may take: JSON lines (the local platform, Firehose with message extraction), gzip
 * (Firehose compression; several gzip members in one object), several JSON values on one line
 * (Firehose concatenates records without a delimiter unless told to add one), and CloudWatch Logs
 * subscription envelopes (`{"messageType": "DATA_MESSAGE", "logEvents": [{"message": ...}]}`, what
 * a subscription hands Firehose when nothing decompresses or extracts it), and Firehose error output
 * (capture-errors/: one JSON object per source record it could not partition or deliver, the record
 * base64 in `rawData`; unwrapped by `firehoseErrorData`). A line that is none of these is counted as
 * unparsable and skipped: one bad line must not hide a window's records.
 */

export interface ReadCounts {
  /** Lines (or log event messages, or error-output rawData) that are not JSON. */
  unparsable: number;
  /**
   * Firehose error-output records unwrapped, by error code (`DynamicPartitioning.DeAggregationRecordCountLimitExceeded`, ...; `unknown` without one).
   * @default - not counted
   */
  errorCodes?: Record<string, number>;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** The object's text: gunzipped when it starts with gzip's magic bytes (all members). */
function objectText(body: Uint8Array): string {
  const gzipped = body.length >= 2 && body[0] === GZIP_MAGIC[0] && body[1] === GZIP_MAGIC[1];
  const bytes = gzipped ? gunzipSync(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return bytes.toString('utf8');
}

/**
 * Top-level JSON objects/arrays written back to back (`{...}{...}`), or undefined when the text
 * holds anything else between them. Tracks strings and escapes so braces inside strings do not count.
 */
export function splitConcatenatedJson(text: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 0) return undefined;
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return undefined;
      depth--;
      if (depth === 0) parts.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c)) {
      return undefined;
    }
  }
  return depth === 0 ? parts : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON values of one line (usually one), or undefined when it is not JSON. */
function lineValues(line: string): unknown[] | undefined {
  try {
    return [JSON.parse(line)];
  } catch {
    const parts = splitConcatenatedJson(line);
    if (parts === undefined || parts.length < 2) return undefined;
    try {
      return parts.map((part) => JSON.parse(part) as unknown);
    } catch {
      return undefined;
    }
  }
}

function emitText(text: string, onValue: (value: unknown) => void, counts: ReadCounts): void {
  let from = 0;
  while (from <= text.length) {
    let to = text.indexOf('\n', from);
    if (to === -1) to = text.length;
    const line = text.slice(from, to).trim();
    from = to + 1;
    if (line === '') continue;
    const values = lineValues(line);
    if (values === undefined) {
      counts.unparsable++;
      continue;
    }
    for (const value of values) emitValue(value, onValue, counts);
  }
}

/**
 * The value as a Firehose error-output record (its error code and source record), or undefined
 * when it is not one. The fields vary with the failure (Firehose developer guide):
 * `errorCode`/`errorMessage` for processing and dynamic partitioning failures, `ErrorCode` or
 * `lastErrorCode` for format conversion; all carry `rawData` (the source record, base64) and
 * `arrivalTimestamp`. No capture or feedback record has a `rawData` field.
 */
function asFirehoseError(value: unknown): { readonly code: string; readonly rawData: string } | undefined {
  if (!isObject(value) || typeof value.rawData !== 'string') return undefined;
  const code = value.errorCode ?? value.ErrorCode ?? value.lastErrorCode;
  if (typeof code === 'string') return { code, rawData: value.rawData };
  const described = ['errorMessage', 'ErrorMessage', 'lastErrorMessage', 'arrivalTimestamp', 'attemptsMade'].some(
    (field) => field in value,
  );
  return described ? { code: 'unknown', rawData: value.rawData } : undefined;
}

/** Firehose writes rawData as standard base64, without line breaks. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The source record a Firehose error-output record holds: its `rawData`, base64-decoded and, when
 * it starts with gzip's magic bytes, gunzipped. Firehose keeps a record that failed after
 * decompression in its compressed form (the gzipped CloudWatch Logs batch); what the text then
 * holds (an envelope, or message lines) is read like any other object. Undefined when rawData is
 * not base64 or not a whole gzip stream.
 */
function firehoseErrorData(rawData: string): string | undefined {
  if (!BASE64.test(rawData)) return undefined;
  try {
    return objectText(Buffer.from(rawData, 'base64'));
  } catch {
    return undefined;
  }
}

function emitValue(value: unknown, onValue: (value: unknown) => void, counts: ReadCounts): void {
  const failed = asFirehoseError(value);
  if (failed !== undefined) {
    if (counts.errorCodes) counts.errorCodes[failed.code] = (counts.errorCodes[failed.code] ?? 0) + 1;
    const text = firehoseErrorData(failed.rawData);
    if (text === undefined) counts.unparsable++;
    else emitText(text, onValue, counts);
    return;
  }
  if (!isObject(value) || typeof value.messageType !== 'string') {
    onValue(value);
    return;
  }
  // A CloudWatch Logs subscription envelope; CONTROL_MESSAGE (the subscription's own check) holds no records.
  if (value.messageType !== 'DATA_MESSAGE' || !Array.isArray(value.logEvents)) return;
  for (const event of value.logEvents) {
    const message = isObject(event) ? event.message : undefined;
    if (typeof message !== 'string') {
      counts.unparsable++;
      continue;
    }
    // A line written through console.log carries a "time<TAB>request id<TAB>level<TAB>" prefix.
    const json = message.indexOf('{');
    if (json === -1) counts.unparsable++;
    else emitText(message.slice(json), onValue, counts);
  }
}

/** Calls `onValue` with every JSON value an object holds (envelopes unwrapped); counts what could not be read. */
export function readJsonValues(body: Uint8Array, onValue: (value: unknown) => void, counts: ReadCounts): void {
  emitText(objectText(body), onValue, counts);
}

/** The value as a FeedbackRecord when it has the fields the join reads, else undefined. */
export function asFeedbackRecord(value: unknown): FeedbackRecord | undefined {
  if (!isObject(value)) return undefined;
  const { inferenceId, label, receivedAt, model } = value;
  if (
    typeof inferenceId !== 'string' ||
    typeof label !== 'string' ||
    typeof receivedAt !== 'string' ||
    typeof model !== 'string'
  )
    return undefined;
  return value as unknown as FeedbackRecord;
}
