import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MISSING_TOKENS } from '../core/data/schema';
import { DATASETS, datasetPaths, loadDataset, trainOptionsFor } from '../training/datasets/catalog';
import {
  CV_FOLDS,
  DEFAULT_SEED,
  KFOLD_BELOW_VALIDATION_ROWS,
  trainCandidates,
  type TrainingRun,
} from '../training/train';
import { table } from './markdown';
import { type ExperimentDataset, referencePython, type ReferenceOutput, runReference } from './sklearn';

/** The gap allowed between our best candidate and scikit-learn's on holdout accuracy and macro F1. */
const TOLERANCE_PP = 1;

interface OurRun {
  readonly name: string;
  readonly run: TrainingRun;
  readonly seconds: number;
}

const pct = (v: number) => (v * 100).toFixed(2);
const count = (n: number) => n.toLocaleString('en-US');

/** The selection protocol a dataset row used, for the tables. */
function protocol(run: TrainingRun): string {
  const s = run.selection;
  return s.protocol === 'k-fold'
    ? `${s.folds}-fold CV on ${count(s.rows)} rows`
    : `validation split, ${count(s.validationRows)} rows`;
}
const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

function experimentFor(name: string, our: TrainingRun): ExperimentDataset {
  const spec = DATASETS[name];
  const table = loadDataset(spec);
  return {
    name,
    files: datasetPaths(spec),
    delimiter: table.format.delimiter,
    header: table.format.header,
    columns: table.format.header ? undefined : table.columns,
    quoting: table.format.quoting,
    label: spec.label,
    features: our.schema.features.map((f) => ({ name: f.name, type: f.type })),
    missing: [...MISSING_TOKENS],
    rows: table.rows.length,
    split: {
      train: Array.from(our.split.train),
      validation: Array.from(our.split.validation),
      holdout: Array.from(our.split.holdout),
    },
    ...(our.cvFolds ? { folds: our.cvFolds.map((f) => Array.from(f)) } : {}),
    selectionMetric: our.selectionMetric === 'macroF1' ? 'macro_f1' : 'accuracy',
  };
}

/** Trains every bundled dataset here and in scikit-learn on the same split; returns the markdown section. */
export function benchTraining(workDir: string, log: (line: string) => void): { markdown: string; failures: string[] } {
  mkdirSync(workDir, { recursive: true });
  const ours: OurRun[] = Object.keys(DATASETS).map((name) => {
    const spec = DATASETS[name];
    const data = loadDataset(spec);
    const start = performance.now();
    const run = trainCandidates(data, { ...trainOptionsFor(spec), seed: DEFAULT_SEED });
    const seconds = (performance.now() - start) / 1000;
    log(
      `${name}: best ${run.best.algorithm}, holdout accuracy ${pct(run.best.holdout.accuracy)}%, macro F1 ${pct(run.best.holdout.macroF1)}% (${seconds.toFixed(1)} s)`,
    );
    return { name, run, seconds };
  });

  log('scikit-learn reference: setting up bench/.venv (first run only) and training on the same splits');
  const python = referencePython();
  const reference: ReferenceOutput = runReference(
    python,
    ours.map((o) => experimentFor(o.name, o.run)),
    DEFAULT_SEED,
    workDir,
  );

  const failures: string[] = [];
  const summary = ours.map(({ name, run, seconds }) => {
    const theirs = reference.best[name];
    const theirSeconds = reference.results
      .filter((r) => r.dataset === name)
      .reduce((s, r) => s + r.searchSeconds + r.fitSeconds, 0);
    const dAcc = (run.best.holdout.accuracy - theirs.holdout.accuracy) * 100;
    const dF1 = (run.best.holdout.macroF1 - theirs.holdout.macroF1) * 100;
    const ok = dAcc >= -TOLERANCE_PP && dF1 >= -TOLERANCE_PP;
    if (!ok) failures.push(`${name}: accuracy ${signed(dAcc)} pp, macro F1 ${signed(dF1)} pp vs scikit-learn`);
    return [
      name,
      protocol(run),
      `${run.best.algorithm}${run.selection.tieBreak ? ' (tie-break)' : ''}`,
      pct(run.best.holdout.accuracy),
      pct(run.best.holdout.macroF1),
      `${theirs.algorithm}${theirs.tieBreak ? ' (tie-break)' : ''}`,
      pct(theirs.holdout.accuracy),
      pct(theirs.holdout.macroF1),
      `${signed(dAcc)} / ${signed(dF1)}`,
      ok ? 'yes' : '**no**',
      seconds.toFixed(2),
      theirSeconds.toFixed(2),
      (seconds / theirSeconds).toFixed(2),
    ];
  });

  const perAlgorithm = ours.flatMap(({ name, run }) =>
    run.candidates.map((c) => {
      const r = reference.results.find((x) => x.dataset === name && x.algorithm === c.algorithm);
      return [
        name,
        run.selection.protocol === 'k-fold' ? `${run.selection.folds}-fold CV` : 'validation',
        c.algorithm,
        pct(c.validation[run.selectionMetric]),
        r ? pct(r.validation.score ?? Number.NaN) : '-',
        pct(c.holdout.accuracy),
        r ? pct(r.holdout.accuracy) : '-',
        pct(c.holdout.macroF1),
        r ? pct(r.holdout.macroF1) : '-',
        count(c.parameters),
        r ? count(r.parameters) : '-',
        (c.searchSeconds + c.fitSeconds).toFixed(2),
        r ? (r.searchSeconds + r.fitSeconds).toFixed(2) : '-',
      ];
    }),
  );

  const env = reference.environment;
  const small = ours
    .filter((o) => o.run.split.holdout.length < 1000)
    .map(
      (o) =>
        `${o.name} ${o.run.split.holdout.length} rows, one row ${(100 / o.run.split.holdout.length).toFixed(2)} pp`,
    );
  const notes = [
    '',
    failures.length === 0
      ? `Every dataset meets the target at seed ${DEFAULT_SEED}.`
      : `Missed at seed ${DEFAULT_SEED} (one seed, one holdout: check other seeds before reading much into it): ${failures.join('; ')}.`,
    small.length > 0
      ? ` Small holdouts move in big steps (${small.join('; ')}), so there the gap counts rows, not trends.`
      : '',
    '\n',
  ].join('');
  const markdown = `## Training: holdout quality and time beside scikit-learn

Both sides train on the same rows: the TypeScript trainer splits rows by a hash of their content
and the seed (${DEFAULT_SEED}) into train / validation / holdout, 60/20/20 in expectation, and hands
the exact row indices to \`bench/reference/sklearn_reference.py\`. Each algorithm searches its
small grid on the selection metric (macro F1), refits the best grid point on train + validation,
and is scored once on the holdout. How grid points and candidates are selected depends on the
size of the validation part (column "selection"): below ${KFOLD_BELOW_VALIDATION_ROWS} validation
rows, by stratified ${CV_FOLDS}-fold cross-validation on train + validation (the mean over folds;
the folds are built once from the rows' content digests, the same for every algorithm, and handed
to Python as row indices, so both sides score on identical folds); otherwise fitted on train and
scored on the validation rows. "Best" is the candidate with the best selection score on each
side, never chosen on the holdout; candidates within 0.001 of the best tie and the one storing
the fewest parameters wins ("(tie-break)" when that decided; parameters counted alike on both
sides: linear weights + intercepts, naive Bayes statistics, tree nodes). Target: our best within
${TOLERANCE_PP} percentage point of scikit-learn's best on holdout accuracy and macro F1.
Times are wall-clock seconds for the whole grid search plus refit of every algorithm, one thread
on both sides (scikit-learn ${env.sklearn ?? '?'}, numpy ${env.numpy ?? '?'}, Python ${(env.python ?? '?').split(' ')[0]}; BLAS/OpenMP pinned to one thread).

${table(['dataset', 'selection', 'our best', 'acc %', 'macro F1 %', 'sklearn best', 'acc %', 'macro F1 %', 'Δ acc / F1 (pp)', 'within 1 pp', 'our s', 'sklearn s', 'time ratio'], summary)}

Per algorithm (sel. = the selection score, mean CV or validation macro F1; holdout, ours vs scikit-learn; parameters of the refitted model; seconds = grid search + refit):

${table(['dataset', 'selection', 'algorithm', 'sel. % ours', 'sel. % sklearn', 'acc % ours', 'acc % sklearn', 'F1 % ours', 'F1 % sklearn', 'params ours', 'params sklearn', 's ours', 's sklearn'], perAlgorithm)}
${notes}`;
  return { markdown, failures };
}

export const BENCH_OUT = join(__dirname, 'out');
