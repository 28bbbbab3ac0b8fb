import { ColumnBuilder } from './column-builder';
import type { MultilineRecords, RawTable, SourceFile } from './load';

/**
 * A table as typed columns: what training computes on, so that 1,000,000 rows cost 8 bytes per
 * numeric cell and 4 per categorical one instead of a string (and a row array) per cell.
 *
 * Nothing of a cell is lost: the split hashes each row's text as written (`5.0` and `5` are
 * different rows, training/split.ts), so a numeric cell whose shortest number text
 * (`String(value)`) differs from its trimmed text keeps that text on the side, in `written` (or as a count of `zeros`), and
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
  /**
   * Per row, for cells written as String(x) followed by zeros (`300.10`, `5.0`): how many zeros,
   * plus 128 when a '.' comes before them; 0 otherwise. Absent when no cell is like that. One byte
   * a row instead of a string per such cell in `written` (a tenth of the cells of a file written
   * with toFixed(2)).
   */
  readonly zeros?: Uint8Array;
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

/**
 * Split keys computed while the file was read (training/split.ts): the first SPLIT_KEY_BYTES
 * (8) bytes of each row's content digest, all the split draws a row's part from.
 */
export interface SplitKeys {
  /** The content columns hashed, sorted (SplitRecord.columns). */
  readonly columns: readonly string[];
  readonly bytes: Uint8Array;
}

/**
 * A loaded table as typed columns, with what the string rows' RawTable said about the files: what
 * training keeps instead of the rows (core/data/load-columns.ts, or typedFromRaw).
 */
export interface TypedTable extends ColumnarTable {
  readonly origin: RowOrigins;
  readonly sources: readonly SourceFile[];
  readonly format: RawTable['format'];
  readonly multiline?: readonly MultilineRecords[];
  readonly splitKeys?: SplitKeys;
}

/** A table either way: the string rows (tests, the pipeline's data contract) or typed columns. */
export type AnyTable = RawTable | TypedTable;

export function isTyped(table: AnyTable): table is TypedTable {
  return typeof table.rows === 'number';
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

/**
 * A numeric cell's text when it is not String(x) (`written`, or String(x) and its `zeros`), as
 * written and trimmed; undefined when it is String(x) (or the cell is missing and written '').
 */
export function writtenText(column: NumericColumn, row: number): string | undefined {
  const written = column.written.get(row);
  if (written !== undefined || column.zeros === undefined) return written;
  const zeros = column.zeros[row];
  if (zeros === 0) return undefined;
  return String(column.values[row]) + (zeros & 128 ? '.' : '') + '0'.repeat(zeros & 127);
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
    return writtenText(column, row) ?? String(x);
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
  const anyWritten = column.written.size > 0 || column.zeros !== undefined;
  for (let r = 0; r < rows; r++) {
    const x = column.values[r];
    const written = anyWritten ? writtenText(column, r) : undefined;
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
