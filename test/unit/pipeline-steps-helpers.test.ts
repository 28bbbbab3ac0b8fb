import type { CandidateResult } from '../../core/pipeline/contract';
import type { StepDeps } from '../../lambdas/pipeline/deps';
import { bestCandidate, holdoutRows } from '../../lambdas/pipeline/evaluate';
import { algorithmsFor } from '../../lambdas/pipeline/prepare';
import { createStepRunner, StepRequestError } from '../../lambdas/pipeline/runner';
import { asAlgorithm } from '../../lambdas/pipeline/train';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { trainCandidates } from '../../training/train';

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

  test('holdoutRows reproduces the holdout rows training scored on', () => {
    const table = loadDataset(DATASETS.iris);
    const run = trainCandidates(table, { label: 'class', algorithms: ['nb'], seed: 7 });
    const { rows, labels } = holdoutRows(table, { label: 'class' }, 7);
    expect(rows).toHaveLength(run.split.holdout.length);
    const column = table.columns.indexOf('petal_length');
    expect(rows.map((r) => r.petal_length)).toEqual(Array.from(run.split.holdout, (i) => table.rows[i][column]));
    expect(labels).toEqual(Array.from(run.split.holdout, (i) => table.rows[i][table.columns.indexOf('class')].trim()));
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
