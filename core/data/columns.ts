import { looksNumeric } from './load';
import { isMissing } from './schema';

/**
 * A table as typed columns: what training computes on, so that 1,000,000 rows cost 8 bytes per
 * numeric cell and 4 per categorical one instead of a string (and a row array) per cell.
 *
 * Nothing of a cell's meaning is lost: the split hashes each row's text as written (`5.0` and `5`
 * are different rows, training/split.ts), so a numeric cell whose shortest number text
 * (`String(value)`) differs from its trimmed text keeps that text on the side, in `written`.
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

/** Builds one column from its cells, given as a function of the row (no row array is needed). */
function columnFromCells(rows: number, cell: (row: number) => string): Column {
  return numericColumn(rows, cell) ?? dictionaryColumn(rows, cell);
}

/** The column as numbers, or undefined at the first cell that is neither missing nor a number. */
function numericColumn(rows: number, cell: (row: number) => string): NumericColumn | undefined {
  const values = new Float64Array(rows);
  const written = new Map<number, string>();
  for (let r = 0; r < rows; r++) {
    const v = cell(r);
    if (isMissing(v)) {
      values[r] = Number.NaN;
      if (v !== '') written.set(r, v);
      continue;
    }
    if (!looksNumeric(v)) return undefined;
    const trimmed = v.trim();
    const x = Number(trimmed);
    values[r] = x;
    if (String(x) !== trimmed) written.set(r, trimmed);
  }
  return { kind: 'numeric', values, written };
}

function dictionaryColumn(rows: number, cell: (row: number) => string): DictionaryColumn {
  const index = new Map<string, number>();
  const dictionary: string[] = [];
  const missing: boolean[] = [];
  const codes = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const v = cell(r);
    let code = index.get(v);
    if (code === undefined) {
      code = dictionary.length;
      index.set(v, code);
      dictionary.push(v);
      missing.push(isMissing(v));
    }
    codes[r] = code;
  }
  return { kind: 'dictionary', codes, dictionary, missing };
}

/** The typed columns of a table of string rows. */
export function columnarFromRows(columns: readonly string[], rows: readonly (readonly string[])[]): ColumnarTable {
  return {
    columns,
    data: columns.map((_, c) => columnFromCells(rows.length, (r) => rows[r][c])),
    rows: rows.length,
  };
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
