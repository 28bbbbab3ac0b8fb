import { type FeatureValue, tokenize } from '../features';
import type { ManifestFeature, ModelManifest } from '../manifest';
import {
  type Baseline,
  type CategoricalBaseline,
  COVERAGE_EDGES,
  type FeatureBaseline,
  type NumericBaseline,
  TEXT_VOCABULARY_SIZE,
  type TextBaseline,
} from './contract';
import { pushAll } from '../arrays';

/**
 * Baselines (issue 14): what a version's training data looked like, in the form the drift tests
 * compare live traffic with. Computed once at training time from the raw feature values of the
 * train part of the split (before imputation or encoding) and the chosen candidate's predicted
 * labels on the holdout; stored in the manifest; checked on register by baselineProblems.
 *
 * One pass (two for text) over the rows, one typed-array sort per numeric column: a million rows
 * cost about a second, and nothing is spread into a call.
 */

/** Quantile bins per numeric column (deciles); fewer when values repeat (edges are unique). */
const BASELINE_BINS = 10;

/**
 * The bin `value` falls in, for bins (-inf, e0], (e0, e1], ..., (e_last, +inf): the first i with
 * value <= edges[i], else edges.length. Edges must be strictly ascending. NaN is no value and
 * belongs to no bin: -1 (count it as missing).
 */
export function binIndex(edges: readonly number[], value: number): number {
  if (Number.isNaN(value)) return -1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The missing-value convention shared by training and monitoring: null, undefined, or a string
// that is empty once trimmed. (Training turns a file's missing tokens, "?", "NA", ..., into null
// before it gets here, as its encoder does.)

/** A numeric feature's value, or undefined when missing (also a non-number string, NaN or +-Infinity). */
export function numericFeatureValue(value: FeatureValue): number | undefined {
  if (value === null || value === undefined) return undefined;
  const x = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  // + 0 turns -0 into 0, so -0 and 0 bin and print alike.
  return Number.isFinite(x) ? x + 0 : undefined;
}

/** A categorical feature's category (trimmed, as the encoder reads it), or undefined when missing. */
export function categoricalFeatureValue(value: FeatureValue): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** A text feature's tokens (the manifest tokenizer's), or undefined when missing. */
export function textFeatureTokens(value: FeatureValue): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value);
  return text.trim() === '' ? undefined : tokenize(text);
}

/** The share of a row's tokens that are in the vocabulary; a row without tokens has none: 0. */
export function coverageShare(tokens: readonly string[], vocabulary: ReadonlySet<string>): number {
  if (tokens.length === 0) return 0;
  let known = 0;
  for (const t of tokens) if (vocabulary.has(t)) known++;
  return known / tokens.length;
}

/** The rows a baseline describes, read one value at a time (no per-row objects needed). */
export interface BaselineRows {
  readonly count: number;
  /** The raw value of `feature` in row `row` (0 <= row < count), as the model would receive it. */
  value(feature: string, row: number): FeatureValue;
}

/** Rows given as records (feature name -> value). */
export function recordRows(records: readonly Readonly<Record<string, FeatureValue>>[]): BaselineRows {
  return { count: records.length, value: (feature, row) => records[row][feature] };
}

/** The holdout predictions: each row's predicted class, as an index into `classes`. */
export interface HoldoutPredictions {
  readonly classes: readonly string[];
  readonly predicted: ArrayLike<number>;
}

export type FeatureBaselines = Pick<Baseline, 'rows' | 'features'>;

export interface BaselineOptions {
  /** How many of the commonest tokens a text baseline keeps (at most TEXT_VOCABULARY_SIZE). @default TEXT_VOCABULARY_SIZE */
  readonly vocabularySize?: number;
}

/**
 * Quantile edges of sorted values: the lower BASELINE_BINS-quantiles (each a value that occurs),
 * duplicates dropped. Constant values give one edge, (-inf, v] holding them all.
 */
export function quantileEdges(sorted: ArrayLike<number>, bins: number = BASELINE_BINS): number[] {
  const n = sorted.length;
  const edges: number[] = [];
  if (n === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const edge = sorted[Math.max(0, Math.ceil((k * n) / bins) - 1)];
    if (edges.length === 0 || edge > edges[edges.length - 1]) edges.push(edge);
  }
  return edges;
}

function binCounts(edges: readonly number[], values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binIndex(edges, values[i])]++;
  return counts;
}

/** Sorted values and their decile bins. */
function quantileBins(values: Float64Array): { edges: number[]; counts: number[]; sorted: Float64Array } {
  const sorted = values.sort();
  const edges = quantileEdges(sorted);
  return { edges, counts: binCounts(edges, sorted), sorted };
}

function numericBaseline(feature: string, rows: BaselineRows): NumericBaseline {
  const values = new Float64Array(rows.count);
  let n = 0;
  for (let r = 0; r < rows.count; r++) {
    const x = numericFeatureValue(rows.value(feature, r));
    if (x !== undefined) values[n++] = x;
  }
  const { edges, counts, sorted } = quantileBins(values.subarray(0, n));
  // With no value at all the range is [0, 0], as the manifest's feature range is.
  return {
    feature,
    type: 'numeric',
    edges,
    counts,
    missing: rows.count - n,
    min: n > 0 ? sorted[0] : 0,
    max: n > 0 ? sorted[n - 1] : 0,
  };
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function categoricalBaseline(feature: string, rows: BaselineRows): CategoricalBaseline {
  const counts = new Map<string, number>();
  let missing = 0;
  for (let r = 0; r < rows.count; r++) {
    const category = categoricalFeatureValue(rows.value(feature, r));
    if (category === undefined) missing++;
    else counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  // fromEntries defines own properties: a category called "__proto__" is kept as one.
  const sorted = [...counts.keys()].sort(byCodeUnits).map((c) => [c, counts.get(c) as number] as const);
  return { feature, type: 'categorical', counts: Object.fromEntries(sorted), missing };
}

/** The `size` commonest tokens, commonest first; equal counts in code-unit order of the token. */
export function commonestTokens(frequency: ReadonlyMap<string, number>, size: number = TEXT_VOCABULARY_SIZE): string[] {
  return [...frequency.entries()]
    .sort((a, b) => b[1] - a[1] || byCodeUnits(a[0], b[0]))
    .slice(0, size)
    .map(([token]) => token);
}

function textBaseline(feature: string, rows: BaselineRows, vocabularySize: number): TextBaseline {
  const lengths = new Float64Array(rows.count);
  const frequency = new Map<string, number>();
  let n = 0;
  for (let r = 0; r < rows.count; r++) {
    const tokens = textFeatureTokens(rows.value(feature, r));
    if (tokens === undefined) continue;
    lengths[n++] = tokens.length;
    for (const t of tokens) frequency.set(t, (frequency.get(t) ?? 0) + 1);
  }
  const vocabulary = commonestTokens(frequency, vocabularySize);
  const known = new Set(vocabulary);
  // Tokenised again rather than kept: a million reviews' tokens would not fit in memory.
  const coverageCounts = new Array<number>(COVERAGE_EDGES.length + 1).fill(0);
  for (let r = 0; r < rows.count; r++) {
    const tokens = textFeatureTokens(rows.value(feature, r));
    if (tokens !== undefined) coverageCounts[binIndex(COVERAGE_EDGES, coverageShare(tokens, known))]++;
  }
  const { edges, counts } = quantileBins(lengths.subarray(0, n));
  return {
    feature,
    type: 'text',
    lengthEdges: edges,
    lengthCounts: counts,
    vocabulary,
    coverageCounts,
    missing: rows.count - n,
  };
}

/** Every feature's baseline, in the order given (the manifest's). */
export function computeFeatureBaselines(
  features: readonly Pick<ManifestFeature, 'name' | 'type'>[],
  rows: BaselineRows,
  options: BaselineOptions = {},
): FeatureBaselines {
  const vocabularySize = Math.min(options.vocabularySize ?? TEXT_VOCABULARY_SIZE, TEXT_VOCABULARY_SIZE);
  return {
    rows: rows.count,
    features: features.map((f): FeatureBaseline => {
      if (f.type === 'numeric') return numericBaseline(f.name, rows);
      if (f.type === 'categorical') return categoricalBaseline(f.name, rows);
      return textBaseline(f.name, rows, vocabularySize);
    }),
  };
}

/** Rows per predicted class, every class listed (in `classes` order), 0 allowed. */
export function predictionCounts({ classes, predicted }: HoldoutPredictions): Record<string, number> {
  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < predicted.length; i++) {
    const k = predicted[i];
    if (!Number.isInteger(k) || k < 0 || k >= classes.length)
      throw new RangeError(`holdout row ${i} predicts class index ${k}; there are ${classes.length} classes`);
    counts[k]++;
  }
  return Object.fromEntries(classes.map((c, k) => [c, counts[k]]));
}

/**
 * A version's baseline: per feature, from the training rows' raw values (train part of the
 * split); the prediction distribution, from its predicted labels on the holdout.
 */
export function computeBaseline(
  features: readonly Pick<ManifestFeature, 'name' | 'type'>[],
  rows: BaselineRows,
  predictions: HoldoutPredictions,
  options: BaselineOptions = {},
): Baseline {
  return { ...computeFeatureBaselines(features, rows, options), predictions: predictionCounts(predictions) };
}

// Validation (on register): a baseline comes from a manifest file anyone may have written, so
// every field is checked as unknown JSON.

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

function edgesProblems(what: string, edges: unknown): string[] {
  if (!Array.isArray(edges)) return [`${what} is not an array`];
  if (!edges.every((e) => typeof e === 'number' && Number.isFinite(e)))
    return [`${what} holds a value that is not a finite number`];
  const at = edges.findIndex((e: number, i) => i > 0 && !(e > (edges[i - 1] as number)));
  return at > 0 ? [`${what} are not strictly ascending (${edges[at - 1]} then ${edges[at]})`] : [];
}

/** Problems with per-bin counts; `sum` gets the total when they are well-formed. */
function countsProblems(
  what: string,
  counts: unknown,
  bins: number | undefined,
  sum: (total: number) => void,
): string[] {
  if (!Array.isArray(counts)) return [`${what} is not an array`];
  if (bins !== undefined && counts.length !== bins)
    return [`${what} has ${counts.length} entries, expected ${bins} (one per bin)`];
  if (!counts.every(isCount)) return [`${what} holds a value that is not a non-negative integer`];
  sum(counts.reduce((a: number, b: number) => a + b, 0));
  return [];
}

function totalProblem(what: string, binned: number | undefined, missing: unknown, rows: number): string[] {
  if (!isCount(missing)) return [`${what} missing is not a non-negative integer`];
  if (binned === undefined || binned + missing === rows) return [];
  return [
    `${what} counts (${binned}) and missing (${missing}) sum to ${binned + missing}, not the baseline's ${rows} rows`,
  ];
}

function featureProblems(b: Record<string, unknown>, rows: number): string[] {
  const what = `feature "${String(b.feature)}" (${String(b.type)})`;
  const problems: string[] = [];
  let binned: number | undefined;
  const total = (n: number) => (binned = (binned ?? 0) + n);
  if (b.type === 'numeric') {
    const edgeIssues = edgesProblems(`${what} edges`, b.edges);
    pushAll(problems, edgeIssues);
    pushAll(
      problems,
      countsProblems(
        `${what} counts`,
        b.counts,
        edgeIssues.length === 0 ? (b.edges as unknown[]).length + 1 : undefined,
        total,
      ),
    );
    if (![b.min, b.max].every((x) => typeof x === 'number' && Number.isFinite(x)))
      problems.push(`${what} min and max are not finite numbers`);
    else if ((b.min as number) > (b.max as number)) problems.push(`${what} min ${b.min} is above max ${b.max}`);
  } else if (b.type === 'categorical') {
    if (!isObject(b.counts)) problems.push(`${what} counts is not an object of category -> rows`);
    else if (!Object.values(b.counts).every(isCount))
      problems.push(`${what} counts holds a value that is not a non-negative integer`);
    else total(Object.values(b.counts).reduce((a: number, c) => a + (c as number), 0));
  } else {
    const edgeIssues = edgesProblems(`${what} lengthEdges`, b.lengthEdges);
    pushAll(problems, edgeIssues);
    pushAll(
      problems,
      countsProblems(
        `${what} lengthCounts`,
        b.lengthCounts,
        edgeIssues.length === 0 ? (b.lengthEdges as unknown[]).length + 1 : undefined,
        total,
      ),
    );
    let coverage: number | undefined;
    pushAll(
      problems,
      countsProblems(`${what} coverageCounts`, b.coverageCounts, COVERAGE_EDGES.length + 1, (n) => (coverage = n)),
    );
    if (coverage !== undefined && binned !== undefined && coverage !== binned)
      problems.push(`${what} coverageCounts sum to ${coverage} but lengthCounts to ${binned}`);
    const vocabulary = b.vocabulary;
    if (!Array.isArray(vocabulary) || !vocabulary.every((t) => typeof t === 'string' && t !== ''))
      problems.push(`${what} vocabulary is not an array of non-empty strings`);
    else if (vocabulary.length > TEXT_VOCABULARY_SIZE)
      problems.push(`${what} vocabulary has ${vocabulary.length} tokens, more than ${TEXT_VOCABULARY_SIZE}`);
    else if (new Set(vocabulary).size !== vocabulary.length) problems.push(`${what} vocabulary lists a token twice`);
  }
  return [...problems, ...totalProblem(what, binned, b.missing, rows)];
}

/**
 * What is wrong with a manifest's baseline (empty: nothing): each manifest feature has exactly
 * one baseline of its type and there are no others; edges are finite and strictly ascending;
 * counts are non-negative integers, one per bin, and with missing sum to `rows`; a vocabulary
 * holds at most TEXT_VOCABULARY_SIZE distinct tokens; predictions list exactly the classes.
 */
export function baselineProblems(baseline: unknown, manifest: Pick<ModelManifest, 'features' | 'classes'>): string[] {
  if (!isObject(baseline)) return ['baseline is not an object'];
  const problems: string[] = [];
  const rows = baseline.rows;
  if (!isCount(rows)) problems.push('rows is not a non-negative integer');
  if (!Array.isArray(baseline.features)) problems.push('features is not an array');
  const entries: unknown[] = Array.isArray(baseline.features) ? baseline.features : [];
  const declared = new Map(manifest.features.map((f) => [f.name, f.type]));
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    if (!isObject(entry) || typeof entry.feature !== 'string') {
      problems.push(`features[${i}] has no feature name`);
      continue;
    }
    const type = declared.get(entry.feature);
    if (type === undefined) problems.push(`feature "${entry.feature}" is not a feature of the manifest`);
    else if (seen.has(entry.feature)) problems.push(`feature "${entry.feature}" has more than one baseline`);
    else if (entry.type !== type)
      problems.push(`feature "${entry.feature}" has a ${String(entry.type)} baseline but is ${type} in the manifest`);
    else if (isCount(rows)) pushAll(problems, featureProblems(entry, rows));
    seen.add(entry.feature);
  }
  const without = manifest.features.filter((f) => !seen.has(f.name));
  if (without.length > 0)
    problems.push(
      `no baseline for feature${without.length > 1 ? 's' : ''} ${without.map((f) => `"${f.name}"`).join(', ')}`,
    );
  const predictions = baseline.predictions;
  if (!isObject(predictions)) {
    problems.push('predictions is not an object of class -> rows');
  } else {
    const missing = manifest.classes.filter((c) => !Object.hasOwn(predictions, c));
    const extra = Object.keys(predictions).filter((c) => !manifest.classes.includes(c));
    if (missing.length > 0) problems.push(`predictions lack the classes ${missing.map((c) => `"${c}"`).join(', ')}`);
    if (extra.length > 0)
      problems.push(`predictions list ${extra.map((c) => `"${c}"`).join(', ')}, not classes of the manifest`);
    if (!Object.values(predictions).every(isCount))
      problems.push('predictions hold a value that is not a non-negative integer');
  }
  return problems;
}
