import { ALGORITHMS, isAlgorithm, TRAINERS } from '../algorithms';
import { DEFAULT_FRACTIONS, type SplitFractions } from '../split';
import { type AnyTable, asTyped, textCodes, type TypedTable } from '../../core/data/columns';
import { type Schema, TEXT_MIN_WORDS } from '../../core/data/schema';

/**
 * Things a user training on unfamiliar data needs to hear before training starts: choices the
 * schema inference made that change what gets trained, and data that quietly went wrong. Pure:
 * the caller prints them (training CLI) or stores them (pipeline run summary).
 */

export type DataWarningKind =
  'inferred-text' | 'high-cardinality' | 'multiline-records' | 'rare-class' | 'dropped-rows';

export interface DataWarning {
  readonly kind: DataWarningKind;
  /** The column concerned (the label column for 'rare-class'); absent for file-level warnings. */
  readonly column?: string;
  /** One line, naming the column or file and what to do about it. */
  readonly message: string;
}

export interface DataWarningOptions {
  /** The algorithms that will be asked for; default all. Names the ones an inferred text column switches off. */
  readonly algorithms?: readonly string[];
  /** The split fractions the run uses, for the rare-class odds; default the trainer's. */
  readonly fractions?: SplitFractions;
}

/**
 * ID-like categorical columns. Identifier inference already drops columns whose every value is
 * distinct; a column that is *mostly* distinct (a ticket or order number, 681 distinct values in
 * Titanic's 891 rows) slips through and one-hot encodes into hundreds of columns seen once or
 * twice each, which models memorise and never meet again. More than half of the present values
 * distinct says "identifier"; at least 50 distinct keeps small tables with a few genuine
 * categories (20 states in 30 rows) quiet. Past 1,000 categories the one-hot block alone is wide
 * enough to slow every trainer and bloat the model, however often each category recurs.
 */
const ID_LIKE_MIN_DISTINCT = 50;
const ID_LIKE_DISTINCT_FRACTION = 0.5;
const MAX_CATEGORIES = 1000;

/**
 * Classes with fewer rows than this get a warning. The split places each row independently, so
 * a class of n rows has no training row with probability (validation + holdout)^n and no holdout
 * row with probability (1 - holdout)^n: at the default 20/20 that is 1% and 33% for 5 rows, still
 * 11% without a holdout row at 10.
 */
const MIN_CLASS_ROWS = 10;

const fileName = (table: TypedTable, file: number) =>
  (table.sources[file]?.uri ?? `file ${file + 1}`).replace(/^file:\/\//, '');
const percent = (p: number) => (p >= 0.995 ? '~100' : p < 0.005 ? '<1' : (p * 100).toFixed(0));

function inferredText(schema: Schema, algorithms: readonly string[]): DataWarning[] {
  const skipped = algorithms.filter((a) => isAlgorithm(a) && !TRAINERS[a].supportsText);
  return schema.features
    .filter((f) => f.type === 'text' && !f.declared)
    .map((f) => ({
      kind: 'inferred-text' as const,
      column: f.name,
      message:
        `column "${f.name}" was inferred as free text (its values average ${TEXT_MIN_WORDS} or more words)` +
        (skipped.length > 0 ? `, which switches off ${skipped.join(', ')} (they do not train on text)` : '') +
        `; if it is a category or an identifier, declare its type (--types "${f.name}=categorical") or exclude it`,
    }));
}

/** The present (non-missing) cells' distinct trimmed texts, with how many rows hold each, in order of first appearance. */
function presentCounts(table: TypedTable, name: string): Map<string, number> {
  const { texts, codes } = textCodes(table.data[table.columns.indexOf(name)]);
  const counts = new Float64Array(texts.length);
  for (let r = 0; r < codes.length; r++) counts[codes[r]]++;
  const present = new Map<string, number>();
  texts.forEach((text, code) => {
    if (text !== '') present.set(text, counts[code]);
  });
  return present;
}

function highCardinality(table: TypedTable, schema: Schema): DataWarning[] {
  const warnings: DataWarning[] = [];
  for (const f of schema.features) {
    if (f.type !== 'categorical' || f.declared) continue;
    const counts = presentCounts(table, f.name);
    const distinct = counts.size;
    let present = 0;
    for (const n of counts.values()) present += n;
    const idLike = distinct >= ID_LIKE_MIN_DISTINCT && distinct > present * ID_LIKE_DISTINCT_FRACTION;
    if (!idLike && distinct <= MAX_CATEGORIES) continue;
    const why = idLike ? 'it looks like an identifier' : `each becomes a one-hot column (more than ${MAX_CATEGORIES})`;
    warnings.push({
      kind: 'high-cardinality',
      column: f.name,
      message:
        `column "${f.name}" has ${distinct} distinct values in ${present} rows: ${why}; ` +
        `exclude it (--exclude "${f.name}"), or declare its type (--types "${f.name}=categorical") to keep it as it is`,
    });
  }
  return warnings;
}

function multilineRecords(table: TypedTable): DataWarning[] {
  return (table.multiline ?? []).map((m) => ({
    kind: 'multiline-records' as const,
    message:
      `${fileName(table, m.file)}: ${m.lines} line end(s) inside quoted fields merged lines into ${m.records} record(s), the first starting at line ${m.firstLine}; ` +
      'if the file has no multi-line text, a quote there is unbalanced and rows were merged (fix the quote, or read the file with --quoting off)',
  }));
}

function rareClasses(table: TypedTable, schema: Schema, fractions: SplitFractions): DataWarning[] {
  if (!table.columns.includes(schema.label)) return [];
  const counts = presentCounts(table, schema.label);
  const warnings: DataWarning[] = [];
  for (const [value, n] of [...counts.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))) {
    if (n >= MIN_CLASS_ROWS) continue;
    const noTrain = (fractions.validation + fractions.holdout) ** n;
    const noHoldout = (1 - fractions.holdout) ** n;
    warnings.push({
      kind: 'rare-class',
      column: schema.label,
      message:
        `class "${value}" of "${schema.label}" has only ${n} row(s): it gets no training row with probability ${percent(noTrain)}% ` +
        `and no holdout row with ${percent(noHoldout)}%, so the model may never predict it and its scores are unreliable; add rows or merge it into another class`,
    });
  }
  return warnings;
}

/** Warnings about `table` as `schema` reads it, in a stable order (by kind, then column/file). */
export function dataWarnings(table: AnyTable, schema: Schema, options: DataWarningOptions = {}): DataWarning[] {
  const typed = asTyped(table);
  const algorithms = options.algorithms ?? ALGORITHMS;
  return [
    ...inferredText(schema, algorithms),
    ...highCardinality(typed, schema),
    ...multilineRecords(typed),
    ...rareClasses(typed, schema, options.fractions ?? DEFAULT_FRACTIONS),
  ];
}

/** The warning for rows the data contract dropped (the pipeline counts them); undefined for none. */
export function droppedRowsWarning(dropped: number, total: number, reason?: string): DataWarning | undefined {
  if (dropped <= 0) return undefined;
  const share = total > 0 ? ` (${((dropped / total) * 100).toFixed(dropped / total < 0.01 ? 2 : 1)}%)` : '';
  return {
    kind: 'dropped-rows',
    message: `${dropped} of ${total} rows${share} were dropped by the data contract${reason ? `: ${reason}` : ''}; training used the rest`,
  };
}

/** One line per warning, as the training CLI prints them. */
export function formatWarning(warning: DataWarning): string {
  return `warning: ${warning.message}`;
}
