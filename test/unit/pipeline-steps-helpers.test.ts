import type { CandidateResult } from '../../core/pipeline/contract';
import type { StepDeps } from '../../lambdas/pipeline/deps';
import { bestCandidate, holdoutRows } from '../../lambdas/pipeline/evaluate';
import { algorithmsFor } from '../../lambdas/pipeline/prepare';
import { createStepRunner, StepRequestError } from '../../lambdas/pipeline/runner';
import { asAlgorithm } from '../../lambdas/pipeline/train';
import { loadTable } from '../../core/data/load';
import { loadColumns } from '../../core/data/load-columns';
import { DATASETS, datasetPaths, loadDataset } from '../../training/datasets/catalog';
import { labelledSplit, trainCandidates } from '../../training/train';
import { tempFiles } from '../helpers/temp-files';

const candidate = (algorithm: string, macroF1: number, accuracy: number, parameters = 10): CandidateResult => ({
  algorithm,
  candidatePrefix: `runs/m/r/candidates/${algorithm}/`,
  params: {},
  validation: { macroF1, accuracy },
  holdout: { macroF1, accuracy },
  fitSeconds: 0,
  parameters,
  selection: 'the validation part',
  warnings: [],
});

const files = tempFiles();
afterAll(files.cleanup);

const asRecord = (columns: readonly string[], row: readonly string[]) =>
  Object.fromEntries(columns.map((c, j) => [c, row[j]]));

describe('pipeline step helpers', () => {
  test('the best candidate is chosen on the selection metric; ties go to the fewer parameters, then the earlier one', () => {
    const cs = [candidate('lr', 0.9, 0.95), candidate('nb', 0.95, 0.9), candidate('rf', 0.95, 0.99)];
    expect(bestCandidate(cs, 'macroF1').best.algorithm).toBe('nb');
    expect(bestCandidate(cs, 'accuracy').best.algorithm).toBe('rf');
    const tied = [candidate('gbdt', 0.9605, 0.96, 4000), candidate('lr', 0.96, 0.96, 15)];
    const pick = bestCandidate(tied, 'macroF1');
    expect(pick.best.algorithm).toBe('lr');
    expect(pick.reason).toMatch(/lr/);
    expect(() => bestCandidate([], 'macroF1')).toThrow(/no candidates/);
  });

  test('algorithms default to all, and text data drops those that cannot train on text', () => {
    expect(algorithmsFor(undefined, undefined)).toEqual(['lr', 'gbdt', 'rf', 'nb', 'svm']);
    expect(algorithmsFor({ a: 'numeric' }, ['nb', 'lr'])).toEqual(['nb', 'lr']);
    expect(algorithmsFor({ review: 'text' }, ['gbdt', 'lr', 'svm'])).toEqual(['lr', 'svm']);
    expect(asAlgorithm('lr')).toBe('lr');
    expect(() => asAlgorithm('xgboost')).toThrow(/unknown algorithm "xgboost"/);
  });

  test('holdoutRows reproduces, from typed columns, the holdout rows training scored on, each cell as written', () => {
    const raw = loadDataset(DATASETS.iris);
    const table = loadColumns(datasetPaths(DATASETS.iris), DATASETS.iris.load);
    const run = trainCandidates(raw, { label: 'class', algorithms: ['nb'], seed: 7 });
    const { rows, labels } = holdoutRows(table, { label: 'class' }, 7);
    expect(rows).toEqual(Array.from(run.split.holdout, (i) => asRecord(raw.columns, raw.rows[i])));
    expect(labels).toEqual(Array.from(run.split.holdout, (i) => raw.rows[i][raw.columns.indexOf('class')].trim()));
  });

  test('holdoutRows gives back blanks, trailing zeros and missing tokens as the string rows held them', () => {
    const cells = ['5', ' 5', '5.0', '5.10 ', '1e3', 'NA', '', '?', ' 7 ', '+2'];
    const lines = Array.from(
      { length: 200 },
      (_, i) => `${cells[i % cells.length]},${i % 3 ? ' x' : 'y '},${i * 0.25},${i % 2 ? 'a' : ' b'}`,
    );
    const path = files.write('written.csv', ['v,w,z,label', ...lines].join('\n'));
    const raw = loadTable([path]);
    const { rows, labels } = holdoutRows(loadColumns([path]), { label: 'label' }, 3);
    const holdout = labelledSplit(raw, { label: 'label' }, 3).split.holdout;
    expect(holdout.length).toBeGreaterThan(20);
    expect(rows).toEqual(Array.from(holdout, (i) => asRecord(raw.columns, raw.rows[i])));
    expect(labels).toEqual(Array.from(holdout, (i) => raw.rows[i][3].trim()));
  });

  test('the step runner refuses unknown steps and malformed inputs before touching storage', async () => {
    const run = createStepRunner({} as StepDeps);
    await expect(run({ step: 'deploy' as never, input: {} })).rejects.toThrow(StepRequestError);
    await expect(run({ step: 'validate', input: null })).rejects.toThrow(/input must be a JSON object/);
    await expect(run({ step: 'validate', input: { trigger: 'upload' } })).rejects.toThrow(
      /input.model must be a model name/,
    );
    await expect(run({ step: 'train', input: { model: 'iris', runId: 'r' } })).rejects.toThrow(
      /missing "dataManifestKey", "seed", "algorithm"/,
    );
    await expect(run({ step: 'record-failure', input: { state: {}, error: {} } })).rejects.toThrow(/input.state.model/);
  });
});
