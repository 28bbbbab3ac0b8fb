import { DataError } from './errors';
import { looksNumeric, type RawTable } from './load';

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

function inferType(values: string[]): FeatureType | 'identifier' {
  const present = values.filter((v) => !isMissing(v));
  if (present.length === 0) return 'categorical';
  const numeric = present.filter(looksNumeric).length;
  if (numeric === present.length) {
    // All-distinct integers on a table of some size are row ids (UDI, patient id), not measurements.
    // (The distinct count, a Set of every value, is taken only when it can decide: 1.5 s at 1M rows.)
    const identifier =
      values.length > 50 &&
      present.length === values.length &&
      present.every((v) => /^[+-]?\d+$/.test(v.trim())) &&
      new Set(present).size === values.length;
    return identifier ? 'identifier' : 'numeric';
  }
  const words = present.reduce((sum, v) => sum + v.trim().split(/\s+/).length, 0) / present.length;
  if (words >= TEXT_MIN_WORDS) return 'text';
  const distinct = new Set(present).size;
  if (distinct === values.length && values.length > 50) return 'identifier';
  return 'categorical';
}

/**
 * Infers each column's type (numeric, categorical, text) from its values, takes the user's
 * overrides, and leaves out identifier columns. A column that is almost all numbers but has a
 * few words is refused with the first offending row, rather than silently becoming categorical.
 */
export function inferSchema(table: RawTable, overrides: SchemaOverrides): Schema {
  const { label } = overrides;
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
    const values = table.rows.map((r) => r[c]);
    const declared = overrides.types?.[name];
    if (declared === 'numeric') {
      assertNumeric(table, c);
      features.push({ name, type: 'numeric', declared: true });
      return;
    }
    if (declared) {
      features.push({ name, type: declared, declared: true });
      return;
    }
    const type = inferType(values);
    if (type === 'identifier') {
      ignored.push({ name, reason: 'identifier (every value distinct)' });
      return;
    }
    if (type !== 'numeric') assertNotMostlyNumeric(table, c);
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

function firstNonNumeric(table: RawTable, c: number): number {
  return table.rows.findIndex((r) => !isMissing(r[c]) && !looksNumeric(r[c]));
}

function offendingRow(table: RawTable, c: number, i: number): DataError {
  const where = table.origin[i];
  const file = table.sources[where.file].uri.replace(/^file:\/\//, '');
  const column = table.columns[c];
  return new DataError(
    `${file}: line ${where.line}, column "${column}": "${table.rows[i][c]}" is not a number (the column is numeric)`,
    { file, row: where.line, column },
  );
}

function assertNumeric(table: RawTable, c: number): void {
  const i = firstNonNumeric(table, c);
  if (i >= 0) throw offendingRow(table, c, i);
}

/** 95%+ numbers with a few words is a typo in a numeric column, not a categorical one. */
function assertNotMostlyNumeric(table: RawTable, c: number): void {
  const present = table.rows.filter((r) => !isMissing(r[c]));
  const numeric = present.filter((r) => looksNumeric(r[c])).length;
  if (present.length >= 20 && numeric / present.length >= 0.95) throw offendingRow(table, c, firstNonNumeric(table, c));
}
