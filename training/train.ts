import type { CandidateSummary, ClassificationMetrics } from '../core/manifest';
import { ALGORITHMS, TRAINERS } from './algorithms';
import type { AlgorithmName, FittedModel, Params, TrainingSet } from './algorithms/types';
import { DataError } from './data/errors';
import { readLabels } from './data/labels';
import type { RawTable } from './data/load';
import { inferSchema, type Schema, type SchemaOverrides } from './data/schema';
import { FittedEncoder } from './encoding/encoder';
import { classificationMetrics } from './metrics';
import { contentSplit, DEFAULT_FRACTIONS, type Split, type SplitFractions, type SplitRecord, splitRecord, tableDigests } from './split';

export type SelectionMetric = 'macroF1' | 'accuracy';

export interface TrainOptions extends SchemaOverrides {
  readonly seed?: number;
  readonly algorithms?: readonly AlgorithmName[];
  /** What picks the best grid point and the best candidate, on the validation rows. */
  readonly selectionMetric?: SelectionMetric;
  readonly fractions?: SplitFractions;
  readonly onProgress?: (message: string) => void;
}

export interface Candidate extends CandidateSummary {
  readonly algorithm: AlgorithmName;
  readonly model: FittedModel;
  readonly holdout: ClassificationMetrics;
  /** The trainer's own holdout probabilities, row-major [holdout rows, classes]. */
  readonly holdoutProbabilities: Float64Array;
}

export interface TrainingRun {
  readonly schema: Schema;
  readonly classes: string[];
  readonly split: Split;
  /** How the split was made (recorded in the manifest): rows' parts follow from their content and the seed. */
  readonly splitRecord: SplitRecord;
  /** Each table row's content digest (sha256 hex), in table order: the row's identity. */
  readonly digests: readonly string[];
  readonly seed: number;
  readonly selectionMetric: SelectionMetric;
  /** Fitted on train + validation: the preprocessing every final candidate was trained with. */
  readonly encoder: FittedEncoder;
  readonly candidates: Candidate[];
  readonly best: Candidate;
  /** Algorithms asked for but not applicable to this data, with the reason. */
  readonly skipped: { algorithm: AlgorithmName; reason: string }[];
}

export const DEFAULT_SEED = 42;

/**
 * The labels and the content split a training run uses. Anything that must score on the same
 * holdout rows as training did (the pipeline scoring a champion) calls this, never its own copy.
 */
export function labelledSplit(
  table: RawTable,
  columns: { readonly label: string; readonly exclude?: readonly string[] },
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): { classes: string[]; y: Int32Array; split: Split; record: SplitRecord; digests: string[] } {
  const { classes, y } = readLabels(table, columns.label);
  const record = splitRecord(table.columns, columns.exclude, seed, fractions);
  const digests = tableDigests(table, record);
  return { classes, y, split: contentSplit(digests, record), record, digests };
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = Int32Array.from([...a, ...b]);
  return out.sort();
}

function subset(y: Int32Array, rows: Int32Array): Int32Array {
  return Int32Array.from(rows, (r) => y[r]);
}

function describe(params: Params): string {
  return Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ');
}

/**
 * Trains every requested algorithm on one stratified split: each grid point is fitted on the
 * train rows and scored on the validation rows; the best grid point is refitted on train +
 * validation and scored once on the holdout. The best candidate is chosen on validation scores,
 * never on the holdout, so its holdout numbers are an honest estimate.
 */
export function trainCandidates(table: RawTable, options: TrainOptions): TrainingRun {
  const seed = options.seed ?? DEFAULT_SEED;
  const metric = options.selectionMetric ?? 'macroF1';
  const progress = options.onProgress ?? (() => undefined);
  const schema = inferSchema(table, options);
  const { classes, y, split, record, digests } = labelledSplit(table, { label: schema.label, exclude: options.exclude }, seed, options.fractions);
  if (split.train.length < classes.length * 2 || split.validation.length === 0 || split.holdout.length === 0) {
    throw new DataError(`too few rows (${y.length}) to split into train, validation and holdout for ${classes.length} classes`);
  }
  const hasText = schema.features.some((f) => f.type === 'text');
  const requested = options.algorithms ?? ALGORITHMS;
  const skipped = requested
    .filter((a) => hasText && !TRAINERS[a].supportsText)
    .map((algorithm) => ({ algorithm, reason: 'does not train on text features' }));
  const algorithms = requested.filter((a) => !skipped.some((s) => s.algorithm === a));
  if (algorithms.length === 0) throw new DataError(`none of the algorithms (${requested.join(', ')}) can train on this data`);

  const searchEncoder = FittedEncoder.fit(table, schema, split.train);
  const searchTrain: TrainingSet = { x: searchEncoder.transform(searchEncoder.tableInputs(table, split.train)), y: subset(y, split.train), nClasses: classes.length };
  const searchValidation: TrainingSet = { x: searchEncoder.transform(searchEncoder.tableInputs(table, split.validation)), y: subset(y, split.validation), nClasses: classes.length };

  const finalRows = concat(split.train, split.validation);
  const encoder = FittedEncoder.fit(table, schema, finalRows);
  const finalTrain: TrainingSet = { x: encoder.transform(encoder.tableInputs(table, finalRows)), y: subset(y, finalRows), nClasses: classes.length };
  const holdoutX = encoder.transform(encoder.tableInputs(table, split.holdout));
  const holdoutY = subset(y, split.holdout);
  progress(`split (seed ${seed}): ${split.train.length} train, ${split.validation.length} validation, ${split.holdout.length} holdout rows; ${encoder.columns.length} encoded columns`);

  const candidates: Candidate[] = algorithms.map((algorithm) => {
    const trainer = TRAINERS[algorithm];
    const searchStart = performance.now();
    let bestParams: Params | undefined;
    let bestValidation = { accuracy: -1, macroF1: -1 };
    for (const params of trainer.grid()) {
      const start = performance.now();
      const model = trainer.fit(searchTrain, params, { seed, validation: searchValidation, columns: searchEncoder.columns, onProgress: progress });
      const m = classificationMetrics(searchValidation.y, model.predictProba(searchValidation.x), classes);
      progress(`${algorithm} ${describe(params)}: validation accuracy ${m.accuracy.toFixed(4)} macro F1 ${m.macroF1.toFixed(4)} (${seconds(start).toFixed(2)} s)`);
      if (m[metric] > bestValidation[metric]) {
        bestValidation = { accuracy: m.accuracy, macroF1: m.macroF1 };
        bestParams = params;
      }
    }
    const searchSeconds = seconds(searchStart);
    const fitStart = performance.now();
    const model = trainer.fit(finalTrain, bestParams as Params, { seed, columns: encoder.columns, onProgress: progress });
    const fitSeconds = seconds(fitStart);
    const holdoutProbabilities = model.predictProba(holdoutX);
    const holdout = classificationMetrics(holdoutY, holdoutProbabilities, classes);
    progress(`${algorithm} refit on train+validation with ${describe(bestParams as Params)}: holdout accuracy ${holdout.accuracy.toFixed(4)} macro F1 ${holdout.macroF1.toFixed(4)}`);
    return { algorithm, params: bestParams as Params, model, validation: bestValidation, holdout, holdoutProbabilities, fitSeconds, searchSeconds };
  });

  // Ties keep the earlier algorithm (the ALGORITHMS order), so the choice is deterministic.
  const best = candidates.reduce((a, b) => (b.validation[metric] > a.validation[metric] ? b : a));
  return { schema, classes, split, splitRecord: record, digests, seed, selectionMetric: metric, encoder, candidates, best, skipped };
}
