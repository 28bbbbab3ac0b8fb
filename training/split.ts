import { createHash } from 'node:crypto';
import { cellText, type ColumnarTable, type TypedTable } from '../core/data/columns';
import type { RawTable } from '../core/data/load';
import {
  canonicalRow,
  contentColumns,
  DIGEST_BYTES,
  digestInto,
  RECORD,
  RowDigests,
  SPLIT_KEY_BYTES,
  UNIT,
} from '../core/data/row-digest';

export { canonicalRow, contentColumns, RowDigests };

/**
 * Train / validation / holdout by row content. Each row's part is a pure function of what the row
 * holds and the seed, never of which other rows are in this run or in which order they came: a
 * row is in the holdout in every run or in none. That is what lets the retraining gate score the
 * champion and a candidate on rows neither trained on (both were trained by this same function,
 * so neither saw a holdout row), and what keeps identical rows (a file uploaded twice, repeated
 * measurements) from landing on both sides of the split.
 */

export interface Split {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly holdout: Int32Array;
}

export interface SplitFractions {
  readonly validation: number;
  readonly holdout: number;
}

export const DEFAULT_FRACTIONS: SplitFractions = { validation: 0.2, holdout: 0.2 };

/**
 * The name of this split function, recorded in every manifest. A champion trained under another
 * scheme (or another seed, fractions or hashed columns) may have trained on this run's holdout
 * rows, so the gate does not trust a comparison on them.
 */
export const SPLIT_SCHEME = 'row-content-sha256/v1';

/** What produced a split: enough to recompute any row's part from the row alone. */
export interface SplitRecord {
  readonly scheme: typeof SPLIT_SCHEME;
  readonly seed: number;
  readonly fractions: SplitFractions;
  /** The columns whose values make a row's content (sorted): every column but the excluded ones. */
  readonly columns: readonly string[];
}

export type SplitPart = 'train' | 'validation' | 'holdout';

/** sha256 (hex) of the canonical row: the row's identity for deduplication and for the split. */
export function rowDigest(names: readonly string[], values: readonly string[]): string {
  return createHash('sha256').update(canonicalRow(names, values)).digest('hex');
}

/** murmur3's 32-bit finaliser: a cheap, well-mixed bijection on 32-bit integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A number in [0, 1) from a row digest and the seed. The digest is already uniform; mixing in the
 * seed gives each seed its own, independent assignment (one sha256 per row, not two).
 */
function splitUnit(digest: string, seed: number): number {
  return splitUnitOf(Number.parseInt(digest.slice(0, 8), 16), Number.parseInt(digest.slice(8, 16), 16), seed);
}

/** splitUnit of a digest whose first 8 bytes are the big-endian words `hi`, `lo`. */
function splitUnitOf(hi: number, lo: number, seed: number): number {
  const a = fmix32(hi ^ fmix32(Math.imul(seed | 0, 0x9e3779b1) ^ 0x5bd1e995));
  const b = fmix32(lo ^ a);
  return (a * 2 ** 21 + (b >>> 11)) / 2 ** 53;
}

/** holdout below `holdout`, validation up to `holdout + validation`, train above. */
export function splitPart(digest: string, seed: number, fractions: SplitFractions = DEFAULT_FRACTIONS): SplitPart {
  return partOf(splitUnit(digest, seed), fractions);
}

function partOf(u: number, fractions: SplitFractions): SplitPart {
  if (u < fractions.holdout) return 'holdout';
  return u < fractions.holdout + fractions.validation ? 'validation' : 'train';
}

export function splitRecord(
  tableColumns: readonly string[],
  exclude: readonly string[] | undefined,
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): SplitRecord {
  return {
    scheme: SPLIT_SCHEME,
    seed,
    fractions: { validation: fractions.validation, holdout: fractions.holdout },
    columns: contentColumns(tableColumns, exclude),
  };
}

/** Whether two records put every row in the same part (so one's holdout is the other's holdout). */
export function sameSplit(
  a:
    | {
        readonly scheme?: string;
        readonly seed?: number;
        readonly fractions?: Partial<SplitFractions>;
        readonly columns?: readonly string[];
      }
    | undefined,
  b: SplitRecord,
): boolean {
  return (
    a?.scheme === b.scheme &&
    a.seed === b.seed &&
    a.fractions?.holdout === b.fractions.holdout &&
    Array.isArray(a.columns) &&
    a.columns.join(UNIT) === b.columns.join(UNIT)
  );
}

/** Every row's digest, in table order. */
export function tableDigests(table: RawTable, record: SplitRecord): string[] {
  return rowDigests(table.columns, table.rows, record);
}

/** The digest of each row of `rows` (laid out as `columns`), by the record's content columns. */
export function rowDigests(
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  record: Pick<SplitRecord, 'columns'>,
): string[] {
  const index = record.columns.map((c) => {
    const i = columns.indexOf(c);
    if (i < 0) throw new Error(`split column "${c}" is not in the data (columns: ${columns.join(', ')})`);
    return i;
  });
  const values: string[] = new Array<string>(index.length);
  const digests: string[] = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let j = 0; j < index.length; j++) values[j] = row[index[j]];
    digests[r] = rowDigest(record.columns, values);
  }
  return digests;
}

/**
 * The same digests as rowDigests, read from typed columns: cellText gives back each cell's
 * trimmed text as written ('' when missing), so a row's canonical text, and its part, are unchanged.
 */
export function columnDigests(table: ColumnarTable, record: Pick<SplitRecord, 'columns'>): string[] {
  return digestColumns(table, record).all();
}

/** Every row's whole digest of a typed table, from its columns. */
export function typedDigests(table: ColumnarTable, record: Pick<SplitRecord, 'columns'>): RowDigests {
  return digestColumns(table, record);
}

/**
 * What contentSplit needs of every row of a typed table: the split keys the loader hashed while
 * it had the rows' text (core/data/load-columns.ts), when they cover the record's columns, else
 * the whole digests from the columns.
 */
export function typedSplitKeys(table: TypedTable, record: Pick<SplitRecord, 'columns'>): RowDigests {
  const keys = table.splitKeys;
  if (
    keys &&
    keys.bytes.length === table.rows * SPLIT_KEY_BYTES &&
    keys.columns.join(UNIT) === record.columns.join(UNIT)
  )
    return new RowDigests(keys.bytes, SPLIT_KEY_BYTES);
  return digestColumns(table, record);
}

function digestColumns(table: ColumnarTable, record: Pick<SplitRecord, 'columns'>): RowDigests {
  const columns = record.columns.map((c) => {
    const i = table.columns.indexOf(c);
    if (i < 0) throw new Error(`split column "${c}" is not in the data (columns: ${table.columns.join(', ')})`);
    return table.data[i];
  });
  const prefixes = record.columns.map((name) => name + UNIT);
  const bytes = new Uint8Array(table.rows * DIGEST_BYTES);
  for (let r = 0; r < table.rows; r++) {
    let text = '';
    for (let j = 0; j < columns.length; j++) text += prefixes[j] + cellText(columns[j], r) + RECORD;
    digestInto(bytes, r, text);
  }
  return new RowDigests(bytes);
}

/**
 * Splits a table by row content. Indices within each part are ascending. Class proportions are
 * kept in expectation (each row's part is an independent draw of the same fractions), not exactly:
 * exact per-class counts would need to know the other rows, which is what makes a random split
 * unstable across runs. Selection on small data uses stratified folds instead (see train.ts).
 */
export function contentSplit(digests: readonly string[] | RowDigests, record: SplitRecord): Split {
  const parts: Record<SplitPart, number[]> = { train: [], validation: [], holdout: [] };
  if (digests instanceof RowDigests) {
    const rows = digests.length;
    for (let r = 0; r < rows; r++) {
      const [hi, lo] = digests.words(r);
      parts[partOf(splitUnitOf(hi, lo, record.seed), record.fractions)].push(r);
    }
  } else {
    for (let r = 0; r < digests.length; r++) parts[splitPart(digests[r], record.seed, record.fractions)].push(r);
  }
  return {
    train: Int32Array.from(parts.train),
    validation: Int32Array.from(parts.validation),
    holdout: Int32Array.from(parts.holdout),
  };
}
