import { parse } from 'csv-parse/sync';
import type { ManifestFeature } from '../manifest';

/**
 * What a batch file looks like, decided once from its first bytes by the job's start step and
 * handed to every chunk: CSV with a header (any column order, extra columns passed through),
 * CSV without one (the model's features in manifest order, the API's array form), or JSON Lines
 * (one object per line, keyed by feature name, extra keys passed through).
 */

export type BatchFormat = 'csv' | 'jsonl';

export interface BatchLayout {
  readonly format: BatchFormat;
  /** CSV: line 1 is a header (not a row). */
  readonly header: boolean;
  /** CSV: the columns in file order (the header's, or the feature names when there is none). */
  readonly columns: readonly string[];
  /** CSV: the column index of each feature, in manifest order. */
  readonly featureColumns: readonly number[];
}

/** Why a whole file is refused (no row is scored): the report says so, nothing is written as results. */
export type BadInputCode = 'unknown_model' | 'empty_file' | 'unparseable' | 'wrong_columns';

export class BadBatchInputError extends Error {
  override readonly name = 'BadBatchInputError';

  constructor(
    readonly code: BadInputCode,
    message: string,
  ) {
    super(message);
  }
}

function formatOf(key: string, head: string): BatchFormat {
  const lower = key.toLowerCase();
  if (/\.(jsonl|ndjson|json)$/.test(lower)) return 'jsonl';
  if (/\.(csv|txt)$/.test(lower)) return 'csv';
  return head.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/** Splits one CSV line: a plain split when it has no quotes (the common case), csv-parse otherwise. */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const records = parse(line, { relax_column_count: true }) as string[][];
  if (records.length !== 1) throw new Error(`expected one CSV record, got ${records.length}`);
  return records[0];
}

const BOM = '\uFEFF';

/** Which of the first chunk's lines is the CSV header: the first that is not blank, as detectLayout reads it. */
export function headerLineIndex(lines: readonly string[]): number {
  return lines.findIndex((line, i) => (i === 0 && line.startsWith(BOM) ? line.slice(1) : line).trim() !== '');
}

/** The first line of the file's first bytes (BOM and CR removed), and whether the file is blank. */
function firstLine(head: string): string | undefined {
  const text = head.startsWith(BOM) ? head.slice(1) : head;
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed.trim() !== '') return trimmed;
  }
  return undefined;
}

const list = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(', ');

/**
 * The layout of a file from its first bytes (64 KiB is plenty for a header and a first row).
 * Throws BadBatchInputError naming what is wrong: empty, not text / not parseable, wrong columns.
 */
export function detectLayout(key: string, head: string, features: readonly ManifestFeature[]): BatchLayout {
  if (head.includes('\u0000'))
    throw new BadBatchInputError('unparseable', 'the file is not text (it contains NUL bytes)');
  const line = firstLine(head);
  if (line === undefined) throw new BadBatchInputError('empty_file', 'the file has no rows');
  const names = features.map((f) => f.name);
  const format = formatOf(key, head);
  if (format === 'jsonl') {
    let first: unknown;
    try {
      first = JSON.parse(line);
    } catch (error) {
      throw new BadBatchInputError(
        'unparseable',
        `line 1 is not JSON (${error instanceof Error ? error.message : String(error)}); JSON Lines files hold one object per line`,
      );
    }
    if (first === null || typeof first !== 'object' || Array.isArray(first))
      throw new BadBatchInputError(
        'unparseable',
        'line 1 is not a JSON object; JSON Lines files hold one object per line',
      );
    const missing = names.filter((n) => !Object.hasOwn(first as object, n));
    if (missing.length === names.length)
      throw new BadBatchInputError(
        'wrong_columns',
        `line 1 has none of the model's features (${list(names)}); it has ${list(Object.keys(first as object))}`,
      );
    return { format, header: false, columns: names, featureColumns: names.map((_, i) => i) };
  }
  let cells: string[];
  try {
    cells = splitCsvLine(line).map((c) => c.trim());
  } catch (error) {
    throw new BadBatchInputError(
      'unparseable',
      `line 1 is not CSV: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const index = new Map(cells.map((c, i) => [c, i]));
  const present = names.filter((n) => index.has(n));
  if (present.length === names.length)
    return { format, header: true, columns: cells, featureColumns: names.map((n) => index.get(n) as number) };
  // No header: the row must be the features in manifest order, and look like one (numbers where numeric).
  const looksLikeRow =
    cells.length === names.length &&
    features.every((f, i) => f.type !== 'numeric' || cells[i] === '' || Number.isFinite(Number(cells[i])));
  if (present.length === 0 && looksLikeRow)
    return { format, header: false, columns: names, featureColumns: names.map((_, i) => i) };
  const missing = names.filter((n) => !index.has(n));
  throw new BadBatchInputError(
    'wrong_columns',
    present.length > 0
      ? `the header lacks ${list(missing)} (it has ${list(cells)})`
      : `line 1 is neither a header naming the model's features (${list(names)}) nor a row of ${names.length} values in that order; it has ${cells.length} values`,
  );
}
