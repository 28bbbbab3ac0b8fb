import { looksNumeric, type MultilineRecords, type RawTable, type SourceFile, trimmed } from './load';
import { isMissing } from './schema';

/**
 * A table as typed columns: what training computes on, so that 1,000,000 rows cost 8 bytes per
 * numeric cell and 4 per categorical one instead of a string (and a row array) per cell.
 *
 * Nothing of a cell is lost: the split hashes each row's text as written (`5.0` and `5` are
 * different rows, training/split.ts), so a numeric cell whose shortest number text
 * (`String(value)`) differs from its trimmed text keeps that text on the side, in `written`, and
 * one with blanks around it keeps them in `padded`.
 */

/** A column whose every non-missing cell reads as a number. Missing cells (any MISSING_TOKENS) are NaN. */
export interface NumericColumn {
  readonly kind: 'numeric';
  readonly values: Float64Array;
  /**
   * Row -> text, for the cells whose trimmed text is not `String(values[row])` (`5.0`, `1e3`, `+2`),
   * and for missing cells written as a token other than '' (`NA`, `?`), as written.
   */
  readonly written: ReadonlyMap<number, string>;
  /** Row -> text as written, for the present cells with blanks around the number (` 5`). */
  readonly padded: ReadonlyMap<number, string>;
}

/**
 * Any other column: each distinct cell (as written, untrimmed) once in `dictionary`, rows as codes
 * into it. `missing[code]` says whether that entry is a missing token; the entry itself is kept,
 * because a text feature tokenises what was written.
 */
export interface DictionaryColumn {
  readonly kind: 'dictionary';
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
  readonly missing: readonly boolean[];
}

export type Column = NumericColumn | DictionaryColumn;

export interface ColumnarTable {
  readonly columns: readonly string[];
  readonly data: readonly Column[];
  readonly rows: number;
}

/** Where each row came from: the file (index into `sources`) and the 1-based line it starts on. */
export interface RowOrigins {
  readonly file: Int32Array;
  readonly line: Int32Array;
}

/** Content digests computed while the file was read (training/split.ts): sha256 of each row, 32 bytes a row. */
export interface PrecomputedDigests {
  /** The content columns hashed, sorted (SplitRecord.columns). */
  readonly columns: readonly string[];
  readonly bytes: Uint8Array;
}

/**
 * A loaded table as typed columns, with what the string rows' RawTable said about the files: what
 * training keeps instead of the rows (core/data/load.ts loadColumns, or typedFromRaw).
 */
export interface TypedTable extends ColumnarTable {
  readonly origin: RowOrigins;
  readonly sources: readonly SourceFile[];
  readonly format: RawTable['format'];
  readonly multiline?: readonly MultilineRecords[];
  readonly digests?: PrecomputedDigests;
}

/** A table either way: the string rows (tests, the pipeline's data contract) or typed columns. */
export type AnyTable = RawTable | TypedTable;

function isTyped(table: AnyTable): table is TypedTable {
  return typeof table.rows === 'number';
}

/**
 * Whether `text` is exactly `String(Number(text))`, decided without making that string: a plain
 * decimal (optional `-`, no leading zero, no trailing fractional zero, no exponent) of at most 15
 * digits, which a double holds exactly enough for its shortest form to be these digits, between
 * 1e-6 and 1e21 where that form has no exponent. False means "not sure", never "different".
 */
export function isShortestNumberText(text: string): boolean {
  const n = text.length;
  if (n === 0 || n > 17) return false;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const start = i;
  if (i === n) return false;
  let c = text.charCodeAt(i);
  let digits = 0;
  const zero = c === 48;
  if (zero) {
    i++;
  } else {
    while (i < n && (c = text.charCodeAt(i)) >= 48 && c <= 57) i++;
    digits = i - start;
    if (digits === 0) return false;
  }
  if (i === n) return (!zero || start === 0) && digits <= 15; // an integer; "-0" is written "0"
  if (text.charCodeAt(i) !== 46 || i === n - 1 || text.charCodeAt(n - 1) === 48) return false;
  const fraction = i + 1;
  for (i = fraction; i < n; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  if (zero) {
    // 0.000001 is written as such, 0.0000001 as 1e-7.
    let leading = 0;
    while (text.charCodeAt(fraction + leading) === 48) leading++;
    if (leading > 5) return false;
  }
  return digits + (n - fraction) <= 15;
}

/** A plain decimal with a trailing fractional zero (`300.10`): a number, never in its shortest form. */
const TRAILING_ZERO = /^-?\d+\.\d*0$/;

/**
 * 1: `text` is exactly `String(Number(text))`; 2: it reads as a number, with no blanks around it,
 * but is not that text (`300.10`); 0: not decided here (anything else, missing tokens included).
 */
export function numberTextKind(text: string): 0 | 1 | 2 {
  if (isShortestNumberText(text)) return 1;
  return TRAILING_ZERO.test(text) ? 2 : 0;
}

/** Builds one column cell by cell: numeric while every cell reads as a number, a dictionary from the first that does not. */
export class ColumnBuilder {
  private values: Float64Array | undefined;
  private written: Map<number, string> | undefined = new Map();
  private padded: Map<number, string> | undefined = new Map();
  private codes: Int32Array | undefined;
  private index: Map<string, number> | undefined;
  private dictionary: string[] = [];
  private missing: boolean[] = [];
  /** Each dictionary entry's hashed text. */
  private canonical: string[] = [];
  private size = 0;

  constructor(capacity = 1024) {
    this.values = new Float64Array(Math.max(16, capacity));
  }

  get length(): number {
    return this.size;
  }

  /** Adds a cell; returns its text as the row-content hash reads it (trimmed, '' when missing). */
  push(v: string): string {
    if (this.values) {
      const kind = numberTextKind(v);
      if (kind !== 0) {
        if (kind === 2) (this.written as Map<number, string>).set(this.size, v);
        if (this.size === this.values.length) this.values = grow(this.values);
        this.values[this.size++] = Number(v);
        return v;
      }
      const text = this.pushNumber(v);
      if (text !== undefined) return text;
      this.toDictionary();
    }
    return this.canonical[this.pushCode(v)];
  }

  build(): Column {
    if (this.values) {
      return {
        kind: 'numeric',
        values: trimmed(this.values, this.size),
        written: this.written as Map<number, string>,
        padded: this.padded as Map<number, string>,
      };
    }
    const codes = this.codes as Int32Array;
    return {
      kind: 'dictionary',
      codes: trimmed(codes, this.size),
      dictionary: this.dictionary,
      missing: this.missing,
    };
  }

  /** The slow path of a numeric cell: its hashed text, or undefined when the cell is not a number. */
  private pushNumber(v: string): string | undefined {
    const values = this.values as Float64Array;
    const r = this.size;
    let x: number;
    let text = '';
    if (isMissing(v)) {
      x = Number.NaN;
      if (v !== '') (this.written as Map<number, string>).set(r, v);
    } else {
      if (!looksNumeric(v)) return undefined;
      text = v.trim();
      x = Number(text);
      if (String(x) !== text) (this.written as Map<number, string>).set(r, text);
      if (text !== v) (this.padded as Map<number, string>).set(r, v);
    }
    if (r === values.length) this.values = grow(values);
    (this.values as Float64Array)[this.size++] = x;
    return text;
  }

  private toDictionary(): void {
    const column: NumericColumn = {
      kind: 'numeric',
      values: this.values as Float64Array,
      written: this.written as Map<number, string>,
      padded: this.padded as Map<number, string>,
    };
    const rows = this.size;
    this.index = new Map();
    this.codes = new Int32Array((this.values as Float64Array).length);
    this.values = undefined;
    this.written = undefined;
    this.padded = undefined;
    this.size = 0;
    for (let r = 0; r < rows; r++) this.pushCode(cellWritten(column, r));
  }

  private pushCode(v: string): number {
    const index = this.index as Map<string, number>;
    // A few categories (the common case) are found faster by comparing than by hashing.
    let code: number | undefined;
    const dictionary = this.dictionary;
    if (dictionary.length <= 8) {
      for (let k = 0; k < dictionary.length; k++)
        if (dictionary[k] === v) {
          code = k;
          break;
        }
    } else {
      code = index.get(v);
    }
    if (code === undefined) {
      code = this.dictionary.length;
      index.set(v, code);
      this.dictionary.push(v);
      this.missing.push(isMissing(v));
      this.canonical.push(isMissing(v) ? '' : v.trim());
    }
    if (this.size === (this.codes as Int32Array).length) this.codes = grow(this.codes as Int32Array);
    (this.codes as Int32Array)[this.size++] = code;
    return code;
  }
}

function grow<T extends Float64Array | Int32Array>(array: T): T {
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** The typed columns of a table of string rows. */
export function columnarFromRows(columns: readonly string[], rows: readonly (readonly string[])[]): ColumnarTable {
  return {
    columns,
    data: columns.map((_, c) => {
      const builder = new ColumnBuilder(rows.length);
      for (let r = 0; r < rows.length; r++) builder.push(rows[r][c]);
      return builder.build();
    }),
    rows: rows.length,
  };
}

/** A RawTable as a TypedTable: the same cells, files and lines, without the string rows. */
export function typedFromRaw(table: RawTable): TypedTable {
  return {
    ...columnarFromRows(table.columns, table.rows),
    origin: { file: Int32Array.from(table.origin, (o) => o.file), line: Int32Array.from(table.origin, (o) => o.line) },
    sources: table.sources,
    format: table.format,
    ...(table.multiline ? { multiline: table.multiline } : {}),
  };
}

/** A table as typed columns (converted when given as string rows). */
export function asTyped(table: AnyTable): TypedTable {
  return isTyped(table) ? table : typedFromRaw(table);
}

/** The file (index into `sources`) and line a row starts on. */
export function rowOrigin(table: TypedTable, row: number): { file: number; line: number } {
  return { file: table.origin.file[row], line: table.origin.line[row] };
}

/** The path of the file a row came from, for messages. */
export function rowFile(table: TypedTable, row: number): string {
  const { file } = rowOrigin(table, row);
  return (table.sources[file]?.uri ?? `file ${file + 1}`).replace(/^file:\/\//, '');
}

/** Whether the cell is a missing token. */
export function cellMissing(column: Column, row: number): boolean {
  return column.kind === 'numeric' ? Number.isNaN(column.values[row]) : column.missing[column.codes[row]];
}

/**
 * The cell's text, trimmed; '' for a missing cell. This is what the row-content hash and the
 * categorical encoding read.
 */
export function cellText(column: Column, row: number): string {
  if (column.kind === 'numeric') {
    const x = column.values[row];
    if (Number.isNaN(x)) return '';
    return column.written.get(row) ?? String(x);
  }
  const code = column.codes[row];
  return column.missing[code] ? '' : column.dictionary[code].trim();
}

/** The cell as written (untrimmed for dictionary columns): what a text feature tokenises. */
export function cellRaw(column: Column, row: number): string {
  if (column.kind === 'dictionary') return column.dictionary[column.codes[row]];
  return cellMissing(column, row) ? (column.written.get(row) ?? '') : cellText(column, row);
}

/** The cell exactly as the file had it, blanks around a number included. */
export function cellWritten(column: Column, row: number): string {
  if (column.kind === 'numeric') return column.padded.get(row) ?? cellRaw(column, row);
  return column.dictionary[column.codes[row]];
}

/**
 * The column's distinct trimmed texts (cellText: '' for a missing cell) in order of first
 * appearance, and each row's index into them: what reading every cell's text gives, with one
 * String(x) per distinct number instead of one per cell.
 */
export function textCodes(column: Column): { texts: string[]; codes: Int32Array } {
  const rows = column.kind === 'numeric' ? column.values.length : column.codes.length;
  const texts: string[] = [];
  const byText = new Map<string, number>();
  const codeOf = (text: string) => {
    let code = byText.get(text);
    if (code === undefined) {
      code = texts.length;
      byText.set(text, code);
      texts.push(text);
    }
    return code;
  };
  const codes = new Int32Array(rows);
  if (column.kind === 'dictionary') {
    const entries = new Int32Array(column.dictionary.length).fill(-1);
    for (let r = 0; r < rows; r++) {
      const entry = column.codes[r];
      if (entries[entry] < 0) entries[entry] = codeOf(cellText(column, r));
      codes[r] = entries[entry];
    }
    return { texts, codes };
  }
  // A number not in `written` reads as String(x), which no `written` text is (those differ from
  // String(Number(text)) by definition), so numbers can be keyed by value.
  const byValue = new Map<number, number>();
  const anyWritten = column.written.size > 0;
  for (let r = 0; r < rows; r++) {
    const x = column.values[r];
    const written = anyWritten ? column.written.get(r) : undefined;
    if (Number.isNaN(x) || written !== undefined) {
      codes[r] = codeOf(cellText(column, r));
      continue;
    }
    let code = byValue.get(x);
    if (code === undefined) {
      code = codeOf(String(x));
      byValue.set(x, code);
    }
    codes[r] = code;
  }
  return { texts, codes };
}
