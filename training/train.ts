import type { CandidateSummary, ClassificationMetrics } from '../core/manifest';
import type { FeatureBaselines } from '../core/monitoring/baseline';
import { ALGORITHMS, TRAINERS } from './algorithms';
import { trainBaselines } from './baseline';
import type { AlgorithmName, EncodedColumn, FittedModel, Params, Trainer, TrainingSet } from './algorithms/types';
import { DataError } from '../core/data/errors';
import { readLabels } from './data/labels';
import { type AnyTable, asTyped, type ColumnarTable, isTyped, type TypedTable } from '../core/data/columns';
import { inferSchema, type Schema, type SchemaOverrides } from '../core/data/schema';
import { FittedEncoder } from './encoding/encoder';
import { otherFolds, stratifiedFolds } from './folds';
import { classificationMetrics } from './metrics';
import { pickBest, TIE_TOLERANCE } from './selection';
import {
  contentSplit,
  DEFAULT_FRACTIONS,
  type Split,
  type SplitFractions,
  type RowDigests,
  type SplitRecord,
  splitRecord,
  tableDigests,
  typedDigests,
  typedSplitKeys,
} from './split';

export type SelectionMetric = 'macroF1' | 'accuracy';

/**
 * Below this many validation rows, candidates are selected by k-fold cross-validation on train +
 * validation instead of on the validation part. With 1,000 rows or more one row is 0.1 point of
 * accuracy and a single split's sampling noise (about sqrt(p(1-p)/n): 0.7 point at 95% accuracy
 * and n = 1,000) is below the differences that usually separate candidates; below that a single
 * split's noise exceeds them (27 iris rows: one row is 3.7 points) and the choice is a coin toss.
 * Scoring every pool row once, across CV_FOLDS folds, uses all the rows and averages that noise.
 */
export const KFOLD_BELOW_VALIDATION_ROWS = 1000;

/** k of the k-fold cross-validation: each grid point is fitted k times on 80% of the pool. */
export const CV_FOLDS = 5;

interface Scores {
  readonly accuracy: number;
  readonly macroF1: number;
}

/** How the best candidate (and each algorithm's grid point) was selected. */
export interface Selection {
  /** 'k-fold': mean over CV_FOLDS stratified folds of train + validation; 'validation-split': fitted on train, scored on validation. */
  readonly protocol: 'k-fold' | 'validation-split';
  /** Under k-fold: how many folds the scores are averaged over. */
  readonly folds?: number;
  /** Rows the selection scores come from: train + validation under k-fold, the validation part otherwise. */
  readonly rows: number;
  readonly validationRows: number;
  /** Why the best candidate won (pickBest's reason). */
  readonly reason: string;
  /** Present when candidates tied within TIE_TOLERANCE and the parameter count (or the order) decided. */
  readonly tieBreak?: string;
}

export interface TrainOptions extends SchemaOverrides {
  readonly seed?: number;
  readonly algorithms?: readonly AlgorithmName[];
  /** What picks the best grid point and the best candidate: on the validation rows, or the k-fold mean (see KFOLD_BELOW_VALIDATION_ROWS). */
  readonly selectionMetric?: SelectionMetric;
  readonly fractions?: SplitFractions;
  readonly onProgress?: (message: string) => void;
  /** Replaces built-in trainers by name; for tests (stub models whose scores are known). */
  readonly trainers?: Partial<Record<AlgorithmName, Trainer>>;
}

export interface Candidate extends CandidateSummary {
  readonly algorithm: AlgorithmName;
  readonly model: FittedModel;
  readonly holdout: ClassificationMetrics;
  /** The trainer's own holdout probabilities, row-major [holdout rows, classes]. */
  readonly holdoutProbabilities: Float64Array;
  /** `validation` holds the selection scores: CV means under k-fold. This is their std over the folds (k-fold only). */
  readonly cvStd?: Scores;
  /** The refitted model's size (FittedModel.parameterCount()): the tie-break prefers fewer. */
  readonly parameters: number;
}

export interface TrainingRun {
  readonly schema: Schema;
  readonly classes: string[];
  readonly split: Split;
  /** How the split was made (recorded in the manifest): rows' parts follow from their content and the seed. */
  readonly splitRecord: SplitRecord;
  readonly seed: number;
  readonly selectionMetric: SelectionMetric;
  readonly selection: Selection;
  /** Under k-fold: the folds' row indices (ascending), the same for every algorithm. */
  readonly cvFolds?: readonly Int32Array[];
  /** Fitted on train + validation: the preprocessing every final candidate was trained with. */
  readonly encoder: FittedEncoder;
  readonly candidates: Candidate[];
  readonly best: Candidate;
  /** Algorithms asked for but not applicable to this data, with the reason. */
  readonly skipped: { algorithm: AlgorithmName; reason: string }[];
  /** The train part's feature baselines (raw values, before encoding); exportModel adds the candidate's holdout predictions. */
  readonly baseline: FeatureBaselines;
}

export const DEFAULT_SEED = 42;

/**
 * The labels and the content split a training run uses. Anything that must score on the same
 * holdout rows as training did (the pipeline scoring a champion) calls this, never its own copy.
 */
export function labelledSplit(
  table: AnyTable,
  columns: { readonly label: string; readonly exclude?: readonly string[] },
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): { classes: string[]; y: Int32Array; split: Split; record: SplitRecord; digests: string[] } {
  if (isTyped(table)) {
    const { keys, ...labelled } = typedLabelledSplit(table, columns, seed, fractions);
    return { ...labelled, digests: (keys.whole ? keys : typedDigests(table, labelled.record)).all() };
  }
  // String rows (tests, callers holding loadTable's rows): hashed from the text as read, with no
  // typed copy of the table made; the same digests, and so the same split (test/unit/columns.test.ts).
  const { classes, y } = readLabels(table, columns.label);
  const record = splitRecord(table.columns, columns.exclude, seed, fractions);
  const digests = tableDigests(table, record);
  return { classes, y, split: contentSplit(digests, record), record, digests };
}

/** labelledSplit with what the split drew from: split keys, or whole digests when the table had no keys. */
function typedLabelledSplit(
  table: TypedTable,
  columns: { readonly label: string; readonly exclude?: readonly string[] },
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): { classes: string[]; y: Int32Array; split: Split; record: SplitRecord; keys: RowDigests } {
  const { classes, y } = readLabels(table, columns.label);
  const record = splitRecord(table.columns, columns.exclude, seed, fractions);
  // Hashed by the loader from the text it read when it could (core/data/load-columns.ts):
  // from typed columns, rebuilding a numeric cell's text (String(x)) costs 2-3x the hashing.
  const keys = typedSplitKeys(table, record);
  return { classes, y, split: contentSplit(keys, record), record, keys };
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out.sort();
}

function subset(y: Int32Array, rows: Int32Array): Int32Array {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = y[rows[i]];
  return out;
}

function describe(params: Params): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** Encoded rows to fit a grid point on and the rows it is scored on, with the columns' descriptions. */
interface SearchFold {
  readonly train: TrainingSet;
  readonly heldOut: TrainingSet;
  readonly columns: readonly EncodedColumn[];
}

/** Fits the encoder on `fitRows` only (nothing of the held-out rows leaks into the scaling or the vocabulary). */
function searchFold(
  table: ColumnarTable,
  schema: Schema,
  y: Int32Array,
  nClasses: number,
  fitRows: Int32Array,
  heldRows: Int32Array,
): SearchFold {
  const encoder = FittedEncoder.fitColumns(table, schema, fitRows);
  const encode = (rows: Int32Array): TrainingSet => ({
    x: encoder.transformColumns(table, rows),
    y: subset(y, rows),
    nClasses,
  });
  return { train: encode(fitRows), heldOut: encode(heldRows), columns: encoder.columns };
}

function meanStd(values: readonly number[]): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  // Population std (numpy's default), as the scikit-learn reference reports it.
  return { mean, std: Math.sqrt(squares / values.length) };
}

interface GridResult {
  readonly params: Params;
  readonly mean: Scores;
  readonly std: Scores;
  readonly seconds: number;
}

/**
 * Every grid point fitted on each fold's fit rows and scored on its held-out rows (a trainer that
 * stops early watches the held-out rows); a grid point's score is the mean over folds. The best
 * is the first grid point with the highest mean on the selection metric.
 */
function searchGrid(
  algorithm: AlgorithmName,
  trainer: Trainer,
  folds: readonly SearchFold[],
  classes: string[],
  metric: SelectionMetric,
  seed: number,
  progress: (message: string) => void,
): GridResult {
  const start = performance.now();
  let best: Omit<GridResult, 'seconds'> | undefined;
  for (const params of trainer.grid()) {
    const pointStart = performance.now();
    const accuracy: number[] = [];
    const macroF1: number[] = [];
    for (const fold of folds) {
      const model = trainer.fit(fold.train, params, {
        seed,
        validation: fold.heldOut,
        columns: fold.columns,
        onProgress: progress,
      });
      const m = classificationMetrics(fold.heldOut.y, model.predictProba(fold.heldOut.x), classes);
      accuracy.push(m.accuracy);
      macroF1.push(m.macroF1);
    }
    const a = meanStd(accuracy);
    const f = meanStd(macroF1);
    const mean = { accuracy: a.mean, macroF1: f.mean };
    const spread =
      folds.length > 1 ? ` (std ${a.std.toFixed(4)} / ${f.std.toFixed(4)} over ${folds.length} folds)` : '';
    progress(
      `${algorithm} ${describe(params)}: ${folds.length > 1 ? 'CV mean ' : 'validation '}accuracy ${mean.accuracy.toFixed(4)} macro F1 ${mean.macroF1.toFixed(4)}${spread} (${seconds(pointStart).toFixed(2)} s)`,
    );
    if (!best || mean[metric] > best.mean[metric]) best = { params, mean, std: { accuracy: a.std, macroF1: f.std } };
  }
  if (!best) throw new Error(`${algorithm} has an empty hyper-parameter grid`);
  return { ...best, seconds: seconds(start) };
}

/**
 * The folds grid points are scored on. Below KFOLD_BELOW_VALIDATION_ROWS validation rows:
 * CV_FOLDS stratified folds of train + validation (training/folds.ts), the same for every
 * algorithm; otherwise the one train -> validation split.
 */
function selectionFolds(
  table: ColumnarTable,
  schema: Schema,
  y: Int32Array,
  nClasses: number,
  split: Split,
  pool: Int32Array,
  record: SplitRecord,
): { folds: SearchFold[]; cvFolds?: Int32Array[] } {
  if (split.validation.length >= KFOLD_BELOW_VALIDATION_ROWS) {
    return { folds: [searchFold(table, schema, y, nClasses, split.train, split.validation)] };
  }
  // Whole digests (folds group identical rows by them): only for small data, where k-fold is used.
  const cvFolds = stratifiedFolds(pool, y, typedDigests(table, record).all(), CV_FOLDS);
  const nonEmpty = cvFolds.filter((f) => f.length > 0);
  if (nonEmpty.length < 2) {
    throw new DataError(
      `too few distinct rows (${pool.length} rows in train + validation) for ${CV_FOLDS}-fold cross-validation`,
    );
  }
  const folds = nonEmpty.map((held, i) => searchFold(table, schema, y, nClasses, otherFolds(nonEmpty, i), held));
  return { folds, cvFolds };
}

/**
 * Trains every requested algorithm and picks the best candidate, never looking at the holdout:
 * each grid point is scored on the validation rows after fitting on the train rows, or, when
 * the validation part is small, by stratified k-fold cross-validation on train + validation (see
 * KFOLD_BELOW_VALIDATION_ROWS). Each algorithm's best grid point is refitted on train +
 * validation and scored once on the holdout, so the chosen candidate's holdout numbers are an
 * honest estimate. Candidates whose selection scores tie (TIE_TOLERANCE) go to the one with the
 * fewest parameters (training/selection.ts).
 */
export function trainCandidates(table: AnyTable, options: TrainOptions): TrainingRun {
  // Typed columns only from here on: string rows, when given, are not needed past this line.
  const typed = asTyped(table);
  const seed = options.seed ?? DEFAULT_SEED;
  const metric = options.selectionMetric ?? 'macroF1';
  const progress = options.onProgress ?? (() => undefined);
  const trainers: Readonly<Record<AlgorithmName, Trainer>> = { ...TRAINERS, ...options.trainers };
  const schema = inferSchema(typed, options);
  const { classes, y, split, record } = typedLabelledSplit(
    typed,
    { label: schema.label, exclude: options.exclude },
    seed,
    options.fractions,
  );
  const pool = concat(split.train, split.validation);
  if (pool.length < classes.length * 2 || split.holdout.length === 0) {
    throw new DataError(
      `too few rows (${y.length}) to split into train, validation and holdout for ${classes.length} classes`,
    );
  }
  const hasText = schema.features.some((f) => f.type === 'text');
  const requested = options.algorithms ?? ALGORITHMS;
  const skipped = requested
    .filter((a) => hasText && !trainers[a].supportsText)
    .map((algorithm) => ({ algorithm, reason: 'does not train on text features' }));
  const algorithms = requested.filter((a) => !skipped.some((s) => s.algorithm === a));
  if (algorithms.length === 0)
    throw new DataError(`none of the algorithms (${requested.join(', ')}) can train on this data`);

  const { folds, cvFolds } = selectionFolds(typed, schema, y, classes.length, split, pool, record);
  const encoder = FittedEncoder.fitColumns(typed, schema, pool);
  const finalTrain: TrainingSet = {
    x: encoder.transformColumns(typed, pool),
    y: subset(y, pool),
    nClasses: classes.length,
  };
  const holdoutX = encoder.transformColumns(typed, split.holdout);
  const holdoutY = subset(y, split.holdout);
  progress(
    `split (seed ${seed}): ${split.train.length} train, ${split.validation.length} validation, ${split.holdout.length} holdout rows; ${encoder.columns.length} encoded columns`,
  );
  const kFold = cvFolds !== undefined;
  const metricName = metric === 'macroF1' ? 'macro F1' : 'accuracy';
  const scoreName = kFold ? `${folds.length}-fold CV ${metricName}` : `validation ${metricName}`;
  progress(
    kFold
      ? `selecting by ${folds.length}-fold cross-validation on the ${pool.length} train + validation rows (validation part ${split.validation.length} rows < ${KFOLD_BELOW_VALIDATION_ROWS})`
      : `selecting on the ${split.validation.length} validation rows`,
  );

  const candidates: Candidate[] = algorithms.map((algorithm) => {
    const trainer = trainers[algorithm];
    const search = searchGrid(algorithm, trainer, folds, classes, metric, seed, progress);
    const fitStart = performance.now();
    const model = trainer.fit(finalTrain, search.params, { seed, columns: encoder.columns, onProgress: progress });
    const fitSeconds = seconds(fitStart);
    const holdoutProbabilities = model.predictProba(holdoutX);
    const holdout = classificationMetrics(holdoutY, holdoutProbabilities, classes);
    const parameters = model.parameterCount();
    progress(
      `${algorithm} refit on train+validation with ${describe(model.params)}: holdout accuracy ${holdout.accuracy.toFixed(4)} macro F1 ${holdout.macroF1.toFixed(4)}, ${parameters} parameters`,
    );
    return {
      algorithm,
      // What the model was fitted with: the grid point, and what the trainer resolved (the forest's
      // budget cut, for one).
      params: model.params,
      model,
      validation: search.mean,
      ...(kFold ? { cvStd: search.std } : {}),
      parameters,
      holdout,
      holdoutProbabilities,
      fitSeconds,
      searchSeconds: search.seconds,
    };
  });

  const pick = pickBest(
    candidates.map((c) => ({ algorithm: c.algorithm, score: c.validation[metric], parameters: c.parameters })),
    TIE_TOLERANCE,
    scoreName,
  );
  progress(`best: ${pick.reason}`);
  const selection: Selection = {
    protocol: kFold ? 'k-fold' : 'validation-split',
    ...(kFold ? { folds: folds.length } : {}),
    rows: kFold ? pool.length : split.validation.length,
    validationRows: split.validation.length,
    reason: pick.reason,
    ...(pick.tieBreak ? { tieBreak: pick.reason } : {}),
  };
  return {
    schema,
    classes,
    split,
    splitRecord: record,
    seed,
    selectionMetric: metric,
    selection,
    ...(cvFolds ? { cvFolds } : {}),
    encoder,
    candidates,
    best: candidates[pick.index],
    skipped,
    baseline: trainBaselines(typed, schema, split.train),
  };
}
