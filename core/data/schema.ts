import {
  type AnyTable,
  asTyped,
  type Column,
  cellWritten,
  rowFile,
  rowOrigin,
  type TypedTable,
  writtenText,
} from './columns';
import { DataError } from './errors';
import { looksNumeric } from './load';

export type FeatureType = 'numeric' | 'categorical' | 'text';

/** Values that mean "no value" in the files we read (mushrooms writes `?`). */
export const MISSING_TOKENS: readonly string[] = ['', '?', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL'];

export function isMissing(value: string | undefined): boolean {
  return value === undefined || MISSING_TOKENS.includes(value.trim());
}

export interface FeatureSchema {
  readonly name: string;
  readonly type: FeatureType;
  /** Set when the user declared the type (overrides.types); absent when it was inferred. */
  readonly declared?: true;
}

/**
 * How a missing categorical value (a MISSING_TOKENS cell, or null in a request) is encoded.
 * 'own': as a category of its own (MISSING_CATEGORY, "(missing)"), when the fitting rows had a
 * missing value in that column; without one it falls back to 'most-frequent', and a null at
 * inference then becomes the commonest category. 'most-frequent': imputed with the commonest
 * category. The default, 'own', was chosen by measurement (docs/benchmarks.md, section
 * missing-category): when gaps depend on the label it gains 1-7 pp macro F1 (imputation hides the
 * one signal the gap carries), on mushrooms' real `?`s about 1 pp once few columns remain, and on
 * gaps made at random the mean change is within seed-to-seed noise.
 */
export type MissingCategory = 'own' | 'most-frequent';

export const MISSING_CATEGORY_OPTIONS: readonly MissingCategory[] = ['own', 'most-frequent'];

export const DEFAULT_MISSING_CATEGORY: MissingCategory = 'own';

export interface Schema {
  readonly label: string;
  readonly features: readonly FeatureSchema[];
  /** Columns left out, and why (identifier, excluded by the user, ...). */
  readonly ignored: readonly { readonly name: string; readonly reason: string }[];
  /** As the overrides said; absent means DEFAULT_MISSING_CATEGORY. */
  readonly missingCategory?: MissingCategory;
}

/** What a user may say about the columns; everything else is inferred. */
export interface SchemaOverrides {
  readonly label: string;
  readonly types?: Readonly<Record<string, FeatureType>>;
  readonly exclude?: readonly string[];
  /** How missing categorical values are encoded (see MissingCategory); default DEFAULT_MISSING_CATEGORY. */
  readonly missingCategory?: MissingCategory;
}

/** A column whose present values average at least this many words is inferred as text. */
export const TEXT_MIN_WORDS = 4;

/** How many rows hold each dictionary entry. */
function entryCounts(column: Column & { kind: 'dictionary' }): Int32Array {
  const counts = new Int32Array(column.dictionary.length);
  for (let r = 0; r < column.codes.length; r++) counts[column.codes[r]]++;
  return counts;
}

const INTEGER = /^[+-]?\d+$/;

/** Whether every cell of a numeric column is an integer written as digits (no fraction, no exponent). */
function allIntegers(column: Column & { kind: 'numeric' }): boolean {
  for (let r = 0; r < column.values.length; r++) {
    const written = writtenText(column, r);
    if (
      written !== undefined
        ? !INTEGER.test(written)
        : !(Number.isInteger(column.values[r]) && Math.abs(column.values[r]) < 1e21)
    )
      return false;
  }
  return true;
}

/**
 * The column's type from its cells, as the file wrote them (a numeric column's cells read back
 * as their text: String(x), or the text kept for the cells that differ).
 */
function inferType(column: Column, rows: number): FeatureType | 'identifier' {
  if (column.kind === 'numeric') {
    let present = 0;
    for (let r = 0; r < rows; r++) if (!Number.isNaN(column.values[r])) present++;
    if (present === 0) return 'categorical';
    // All-distinct integers on a table of some size are row ids (UDI, patient id), not measurements.
    // (The distinct count, a Set of every value, is taken only when it can decide: 1.5 s at 1M rows.)
    const identifier =
      rows > 50 &&
      present === rows &&
      allIntegers(column) &&
      new Set(Array.from({ length: rows }, (_, r) => cellWritten(column, r))).size === rows;
    return identifier ? 'identifier' : 'numeric';
  }
  const counts = entryCounts(column);
  let present = 0;
  let numeric = 0;
  let words = 0;
  let distinct = 0;
  let integers = true;
  let repeated = false;
  column.dictionary.forEach((v, code) => {
    if (column.missing[code] || counts[code] === 0) return;
    present += counts[code];
    distinct++;
    if (counts[code] > 1) repeated = true;
    const trimmed = v.trim();
    if (looksNumeric(v)) numeric += counts[code];
    if (!INTEGER.test(trimmed)) integers = false;
    words += counts[code] * trimmed.split(/\s+/).length;
  });
  if (present === 0) return 'categorical';
  if (numeric === present) {
    return rows > 50 && present === rows && integers && !repeated ? 'identifier' : 'numeric';
  }
  if (words / present >= TEXT_MIN_WORDS) return 'text';
  if (distinct === rows && rows > 50) return 'identifier';
  return 'categorical';
}

/**
 * Infers each column's type (numeric, categorical, text) from its values, takes the user's
 * overrides, and leaves out identifier columns. A column that is almost all numbers but has a
 * few words is refused with the first offending row, rather than silently becoming categorical.
 */
export function inferSchema(table: AnyTable, overrides: SchemaOverrides): Schema {
  const { label } = overrides;
  const typed = asTyped(table);
  const known = new Set(table.columns);
  if (!known.has(label)) {
    const hint = table.format.header
      ? ''
      : ' (the file has no header row: name the columns with --columns or a schema file)';
    throw new DataError(`label column "${label}" not found; columns are: ${table.columns.join(', ')}${hint}`, {
      column: label,
    });
  }
  for (const name of [...(overrides.exclude ?? []), ...Object.keys(overrides.types ?? {})]) {
    if (!known.has(name))
      throw new DataError(`column "${name}" not found; columns are: ${table.columns.join(', ')}`, { column: name });
  }

  const features: FeatureSchema[] = [];
  const ignored: { name: string; reason: string }[] = [];
  table.columns.forEach((name, c) => {
    if (name === label) return;
    if (overrides.exclude?.includes(name)) {
      ignored.push({ name, reason: 'excluded' });
      return;
    }
    const declared = overrides.types?.[name];
    if (declared === 'numeric') {
      assertNumeric(typed, c);
      features.push({ name, type: 'numeric', declared: true });
      return;
    }
    if (declared) {
      features.push({ name, type: declared, declared: true });
      return;
    }
    const type = inferType(typed.data[c], typed.rows);
    if (type === 'identifier') {
      ignored.push({ name, reason: 'identifier (every value distinct)' });
      return;
    }
    if (type !== 'numeric') assertNotMostlyNumeric(typed, c);
    features.push({ name, type });
  });
  if (features.length === 0) throw new DataError('no feature columns left to train on', {});
  return {
    label,
    features,
    ignored,
    ...(overrides.missingCategory ? { missingCategory: overrides.missingCategory } : {}),
  };
}

/** The first row whose cell is neither missing nor a number; -1 when none is. */
function firstNonNumeric(table: TypedTable, c: number): number {
  const column = table.data[c];
  if (column.kind === 'numeric') return -1;
  const bad = column.dictionary.map((v, code) => !column.missing[code] && !looksNumeric(v));
  return column.codes.findIndex((code) => bad[code]);
}

function offendingRow(table: TypedTable, c: number, i: number): DataError {
  const file = rowFile(table, i);
  const { line } = rowOrigin(table, i);
  const column = table.columns[c];
  return new DataError(
    `${file}: line ${line}, column "${column}": "${cellWritten(table.data[c], i)}" is not a number (the column is numeric)`,
    { file, row: line, column },
  );
}

function assertNumeric(table: TypedTable, c: number): void {
  const i = firstNonNumeric(table, c);
  if (i >= 0) throw offendingRow(table, c, i);
}

/** 95%+ numbers with a few words is a typo in a numeric column, not a categorical one. */
function assertNotMostlyNumeric(table: TypedTable, c: number): void {
  const column = table.data[c];
  if (column.kind === 'numeric') return; // all present cells are numbers: inferred numeric, or none present
  const counts = entryCounts(column);
  let present = 0;
  let numeric = 0;
  column.dictionary.forEach((v, code) => {
    if (column.missing[code]) return;
    present += counts[code];
    if (looksNumeric(v)) numeric += counts[code];
  });
  if (present >= 20 && numeric / present >= 0.95) throw offendingRow(table, c, firstNonNumeric(table, c));
}
