import { CsvError, parse } from 'csv-parse/sync';
import { pushAll } from '../arrays';
import { EndpointUnreachableError } from './errors';

/**
 * `npm run registry -- feedback <model> <file>`: true labels from a CSV (header
 * `inferenceId,label`) sent to POST /models/{name}/feedback in batches. The API refuses a whole
 * batch for one bad item and names it (`feedback[3].label`); the upload then reports that file
 * line with the API's message and sends the batch again without it, so every good line is stored
 * and every bad one reported. The API stays the only judge of ids and labels: here only the file's
 * shape is checked.
 */

/** The inference API's default MAX_BATCH (lambdas/inference/config.ts); a smaller deployed limit (413) halves the batch. */
const FEEDBACK_BATCH = 1000;
/** Waits before sending a batch again after 429 or 502-504 (the API says "send it again shortly"). */
const RETRY_DELAYS_MS: readonly number[] = [1000, 3000];

const HEADER = ['inferenceId', 'label'] as const;
const ITEM_FIELD = /^feedback\[(\d+)\](?:\.(.+))?$/;

export interface FeedbackLine {
  /** The file line it was read from (1 is the header). */
  readonly line: number;
  readonly inferenceId: string;
  readonly label: string;
}

export interface RefusedLine {
  readonly line: number;
  readonly inferenceId?: string;
  /** The API's error code, or `bad_line` for a line that is not two fields. */
  readonly code: string;
  readonly message: string;
  /** The column the API objected to (`inferenceId`, `label`), when it named one. */
  readonly column?: string;
}

/** The file cannot be used at all (unreadable CSV, wrong header, no labels). */
export class FeedbackFileError extends Error {
  override readonly name = 'FeedbackFileError';
}

/** The file's labels, and its lines that are not `inferenceId,label` (refused without sending). */
export function parseFeedbackCsv(text: string, file: string): { lines: FeedbackLine[]; refused: RefusedLine[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
    }) as unknown as typeof records;
  } catch (error) {
    const line = error instanceof CsvError ? (error as CsvError & { lines?: number }).lines : undefined;
    throw new FeedbackFileError(
      `${file}: not a readable CSV${line === undefined ? '' : ` (line ${line})`}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const [header, ...rows] = records;
  if (!header || header.record.length !== 2 || header.record[0] !== HEADER[0] || header.record[1] !== HEADER[1]) {
    throw new FeedbackFileError(
      `${file}: the first line must be the header ${HEADER.join(',')}, got ${header ? JSON.stringify(header.record.join(',')) : 'an empty file'}`,
    );
  }
  const lines: FeedbackLine[] = [];
  const refused: RefusedLine[] = [];
  // A record is located by the line it ends on (a quoted field may span lines; ids and labels do not).
  for (const { record, info } of rows) {
    if (record.length === 2) lines.push({ line: info.lines, inferenceId: record[0], label: record[1] });
    else
      refused.push({
        line: info.lines,
        code: 'bad_line',
        message: `expected 2 fields (${HEADER.join(',')}), got ${record.length}`,
      });
  }
  if (lines.length === 0 && refused.length === 0) throw new FeedbackFileError(`${file}: no labels after the header`);
  return { lines, refused };
}

/** The API's answer to one POST: status and parsed JSON body (undefined when not JSON). */
export interface FeedbackAnswer {
  readonly status: number;
  readonly body: unknown;
}

export type FeedbackPost = (
  items: readonly { readonly inferenceId: string; readonly label: string }[],
) => Promise<FeedbackAnswer>;

export interface UploadResult {
  readonly accepted: number;
  /** Lines the API refused, in file order. */
  readonly refused: readonly RefusedLine[];
  /** Lines never sent because the upload stopped. */
  readonly notSent: number;
  /** Why the upload stopped before the end (a refusal of the whole request, an unreachable API). */
  readonly stopped?: string;
}

export interface UploadOptions {
  /** @default FEEDBACK_BATCH */
  readonly batchSize?: number;
  /** Called for each line as the API refuses it (progress for long files). */
  readonly onRefused?: (refused: RefusedLine) => void;
  /** @default RETRY_DELAYS_MS */
  readonly retryDelaysMs?: readonly number[];
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface ApiErrorBody {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly field?: unknown;
}

const apiError = (body: unknown): ApiErrorBody =>
  typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'object'
    ? ((body as { error: ApiErrorBody }).error ?? {})
    : {};
const describe = (answer: FeedbackAnswer): string => {
  const error = apiError(answer.body);
  return typeof error.message === 'string'
    ? `${answer.status} ${String(error.code ?? '')}: ${error.message}`
    : `status ${answer.status}`;
};
const TRANSIENT = new Set([429, 502, 503, 504]);
const inFileOrder = (refused: readonly RefusedLine[]) => [...refused].sort((a, b) => a.line - b.line);

/** Sends the lines in batches; each line ends accepted, refused (with the API's reason) or, if the upload stops, not sent. */
export async function uploadFeedback(
  lines: readonly FeedbackLine[],
  post: FeedbackPost,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let batchSize = options.batchSize ?? FEEDBACK_BATCH;
  let accepted = 0;
  const refused: RefusedLine[] = [];
  let queue = [...lines];
  let batch: FeedbackLine[] = [];
  let retries = 0;
  while (batch.length > 0 || queue.length > 0) {
    if (batch.length === 0) {
      batch = queue.splice(0, batchSize);
      retries = 0;
    }
    const stop = (why: string): UploadResult => ({
      accepted,
      refused: inFileOrder(refused),
      notSent: batch.length + queue.length,
      stopped: why,
    });
    let answer: FeedbackAnswer;
    try {
      answer = await post(batch.map(({ inferenceId, label }) => ({ inferenceId, label })));
    } catch (error) {
      return stop((error as Error).message);
    }
    if (answer.status === 200) {
      const count = (answer.body as { accepted?: unknown } | undefined)?.accepted;
      accepted += typeof count === 'number' ? count : batch.length;
      batch = [];
      continue;
    }
    const error = apiError(answer.body);
    const item = typeof error.field === 'string' ? ITEM_FIELD.exec(error.field) : null;
    const index = item ? Number(item[1]) : -1;
    if (answer.status >= 400 && answer.status < 500 && index >= 0 && index < batch.length) {
      const [bad] = batch.splice(index, 1);
      const line: RefusedLine = {
        line: bad.line,
        inferenceId: bad.inferenceId,
        code: String(error.code ?? answer.status),
        message: String(error.message ?? `status ${answer.status}`),
        column: item?.[2],
      };
      refused.push(line);
      options.onRefused?.(line);
      continue;
    }
    if (answer.status === 413 && error.code === 'too_many_labels' && batch.length > 1) {
      // A deployment with a smaller MAX_BATCH: the rest of this batch goes back in line.
      batchSize = Math.ceil(batch.length / 2);
      queue = pushAll(batch.splice(batchSize), queue);
      continue;
    }
    if (TRANSIENT.has(answer.status) && retries < delays.length) {
      await sleep(delays[retries++]);
      continue;
    }
    return stop(`the API refused the request: ${describe(answer)}`);
  }
  return { accepted, refused: inFileOrder(refused), notSent: 0 };
}

/** POSTs `{"feedback": [...]}` to `<apiUrl>/models/<model>/feedback`. */
export function httpFeedbackPost(apiUrl: string, model: string): FeedbackPost {
  const url = `${apiUrl.replace(/\/+$/, '')}/models/${encodeURIComponent(model)}/feedback`;
  return async (items) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ feedback: items }),
      });
    } catch (error) {
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new EndpointUnreachableError(
        `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  };
}
