import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The experiment file the Python reference reads: data layout, features and the exact split. */
export interface ExperimentDataset {
  readonly name: string;
  readonly files: string[];
  readonly delimiter: string;
  readonly header: boolean;
  readonly columns?: string[];
  readonly quoting: boolean;
  readonly label: string;
  readonly features: { name: string; type: string }[];
  readonly missing: string[];
  readonly rows: number;
  readonly split: { train: number[]; validation: number[]; holdout: number[] };
  /**
   * The TS trainer's k-fold folds (row indices partitioning train + validation) when it selected
   * by cross-validation; absent when it selected on the validation rows. Python then runs the
   * same protocol on the same folds.
   */
  readonly folds?: number[][];
  readonly selectionMetric: 'macro_f1' | 'accuracy';
}

export interface ReferenceScores {
  readonly accuracy: number;
  readonly macroF1: number;
  readonly logLoss: number | null;
  readonly rocAuc?: number | null;
  /** Validation only: the selection score (the mean over folds under k-fold). */
  readonly score?: number;
}

export interface ReferenceResult {
  readonly dataset: string;
  readonly algorithm: string;
  readonly params: Record<string, unknown>;
  readonly validation: ReferenceScores;
  readonly holdout: ReferenceScores;
  readonly fitSeconds: number;
  readonly searchSeconds: number;
  /** What the refitted model stores, counted as FittedModel.parameterCount() counts ours. */
  readonly parameters: number;
}

export interface ReferenceOutput {
  readonly environment: Record<string, string>;
  readonly results: ReferenceResult[];
  readonly best: Record<
    string,
    { algorithm: string; holdout: ReferenceScores; parameters: number; tieBreak: boolean; reason: string }
  >;
}

const ROOT = join(__dirname, '..');

/** Creates (or reuses) bench/.venv with the pinned scikit-learn and returns its python. */
export function referencePython(): string {
  const out = execFileSync('bash', [join(ROOT, 'bench/reference/setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop() as string;
}

export function runReference(
  python: string,
  datasets: ExperimentDataset[],
  seed: number,
  workDir: string,
): ReferenceOutput {
  const experiment = join(workDir, 'experiment.json');
  const results = join(workDir, 'sklearn-results.json');
  writeFileSync(experiment, JSON.stringify({ seed, datasets }));
  execFileSync(python, [join(ROOT, 'bench/reference/sklearn_reference.py'), experiment, results], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return JSON.parse(readFileSync(results, 'utf8')) as ReferenceOutput;
}
