import type { AlgorithmName, FittedModel, Trainer } from '../../training/algorithms/types';
import { DataError } from '../../core/data/errors';
import { loadTable, type RawTable } from '../../core/data/load';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { candidatesTable } from '../../training/report';
import { TIE_TOLERANCE } from '../../training/selection';
import { KFOLD_BELOW_VALIDATION_ROWS, labelledSplit, trainCandidates } from '../../training/train';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

/** A stub trainer whose model always predicts `predicts` (a class index) and reports `parameters`. */
function constant(algorithm: AlgorithmName, predicts: number, parameters = 1): Trainer {
  return {
    algorithm,
    supportsText: true,
    grid: () => [{}],
    fit(train, params) {
      const model: FittedModel = {
        algorithm,
        params,
        nClasses: train.nClasses,
        predictProba: (x) =>
          Float64Array.from({ length: x.rows * train.nClasses }, (_, i) => (i % train.nClasses === predicts ? 1 : 0)),
        parameterCount: () => parameters,
        toOnnx: () => {
          throw new Error('a stub is not exported');
        },
      };
      return model;
    },
  };
}

/**
 * Rows `x,label` chosen by where the content split puts them: train + validation hold 70% class
 * a, the holdout 80% class b. Predicting "a" wins on the selection rows, predicting "b" on the
 * holdout, so a run that peeked at the holdout would pick the other candidate.
 */
function disagreeingRankings(poolRows: number, holdoutRows: number): RawTable {
  const n = poolRows + holdoutRows;
  const lines = ['x,label'];
  for (let i = 0; i < 2 * n; i++) lines.push(`${i},a`, `${i},b`);
  const everything = loadTable([files.write(`candidates-${n}.csv`, lines.join('\n'))]);
  const { split } = labelledSplit(everything, { label: 'label' }, 42);
  const pick = (rows: Int32Array, label: string, count: number) =>
    Array.from(rows)
      .filter((r) => everything.rows[r][1] === label)
      .slice(0, count);
  const pool = [...split.train, ...split.validation].sort((a, b) => a - b);
  const keep = [
    ...pick(Int32Array.from(pool), 'a', Math.round(0.7 * poolRows)),
    ...pick(Int32Array.from(pool), 'b', Math.round(0.3 * poolRows)),
    ...pick(split.holdout, 'a', Math.round(0.2 * holdoutRows)),
    ...pick(split.holdout, 'b', Math.round(0.8 * holdoutRows)),
  ].sort((a, b) => a - b);
  return loadTable([
    files.write(`rankings-${n}.csv`, ['x,label', ...keep.map((r) => everything.rows[r].join(','))].join('\n')),
  ]);
}

const options = { label: 'label', types: { x: 'numeric' as const }, algorithms: ['lr', 'nb'] as AlgorithmName[] };

describe('trainCandidates', () => {
  const iris = loadDataset(DATASETS.iris);

  test('gives identical candidates for the same seed, and a different split for another seed', () => {
    const a = trainCandidates(iris, { label: 'class', seed: 7 });
    const b = trainCandidates(iris, { label: 'class', seed: 7 });
    expect(a.candidates.map((c) => Array.from(c.holdoutProbabilities))).toEqual(
      b.candidates.map((c) => Array.from(c.holdoutProbabilities)),
    );
    expect(a.split).toEqual(b.split);
    expect(trainCandidates(iris, { label: 'class', seed: 8, algorithms: ['nb'] }).split.holdout).not.toEqual(
      a.split.holdout,
    );
  });

  test.each([
    ['k-fold', 200, 50],
    ['validation-split', 5200, 100],
  ])('selects on the %s scores, never on the holdout (the rankings disagree)', (protocol, poolRows, holdoutRows) => {
    const table = disagreeingRankings(poolRows, holdoutRows);
    // lr always says "b" (what the holdout favours), nb always says "a" (what selection favours).
    const run = trainCandidates(table, { ...options, trainers: { lr: constant('lr', 1), nb: constant('nb', 0) } });
    expect(run.selection.protocol).toBe(protocol);
    expect(run.split.validation.length < KFOLD_BELOW_VALIDATION_ROWS).toBe(protocol === 'k-fold');
    const [lr, nb] = run.candidates;
    expect(lr.holdout.accuracy).toBeGreaterThan(nb.holdout.accuracy + 0.5);
    expect(nb.validation.accuracy).toBeGreaterThan(lr.validation.accuracy + 0.3);
    expect(run.best).toBe(nb);
    expect(run.selection.tieBreak).toBeUndefined();
    expect(run.cvFolds === undefined && nb.cvStd === undefined).toBe(protocol === 'validation-split');
    const pool = run.split.train.length + run.split.validation.length;
    const validation = run.split.validation.length.toLocaleString('en-US');
    expect(candidatesTable(run)).toContain(
      protocol === 'k-fold'
        ? `selected by 5-fold cross-validation on ${pool} rows (validation part ${validation} rows < 1000)`
        : `selected on ${validation} validation rows`,
    );
  });

  test("under k-fold a candidate's selection score is the mean of its fold scores", () => {
    const table = disagreeingRankings(200, 50);
    const run = trainCandidates(table, { ...options, trainers: { lr: constant('lr', 1), nb: constant('nb', 0) } });
    // Always predicting "a" scores each fold's share of "a" rows.
    const shares = (run.cvFolds ?? []).map(
      (f) => Array.from(f).filter((r) => table.rows[r][1] === 'a').length / f.length,
    );
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    const std = Math.sqrt(shares.reduce((a, b) => a + (b - mean) ** 2, 0) / shares.length);
    expect(shares).toHaveLength(5);
    expect(run.candidates[1].validation.accuracy).toBeCloseTo(mean, 12);
    expect(run.candidates[1].cvStd?.accuracy).toBeCloseTo(std, 12);
  });

  test('candidates tied within the tolerance go to the one with fewer parameters', () => {
    const table = disagreeingRankings(200, 50);
    const run = trainCandidates(table, {
      ...options,
      trainers: { lr: constant('lr', 0, 5000), nb: constant('nb', 0, 20) },
    });
    expect(run.best.algorithm).toBe('nb');
    expect(run.selection.tieBreak).toMatch(
      /^lr and nb tie within 0.001 on 5-fold CV macro F1; nb chosen: 20 parameters vs 5,000$/,
    );
    const report = candidatesTable(run).split('\n');
    expect(report.find((l) => /^\*=\s+nb\s/.test(l))).toBeDefined();
    expect(report[report.length - 1]).toBe(`*= chosen by the tie-break: ${run.selection.tieBreak}`);
    const smallerFirst = trainCandidates(table, {
      ...options,
      trainers: { lr: constant('lr', 0, 20), nb: constant('nb', 0, 5000) },
    });
    expect(smallerFirst.best.algorithm).toBe('lr');
  });

  test('selects on accuracy when asked', () => {
    const run = trainCandidates(iris, { label: 'class', selectionMetric: 'accuracy', algorithms: ['lr', 'nb'] });
    expect(run.selectionMetric).toBe('accuracy');
    const best = run.candidates.reduce((m, c) => Math.max(m, c.validation.accuracy), -1);
    expect(run.best.validation.accuracy).toBeGreaterThanOrEqual(best - TIE_TOLERANCE);
    expect(run.selection.reason).toMatch(/CV accuracy/);
  });

  test('skips tree models for text features and says why', () => {
    const sentiment = loadTable(
      [
        files.write(
          's.tsv',
          Array.from(
            { length: 60 },
            (_, i) => `${i % 2 ? 'a truly great fine product' : 'a really bad awful thing'} ${i}\t${i % 2}`,
          ).join('\n'),
        ),
      ],
      {
        columns: ['sentence', 'label'],
      },
    );
    const run = trainCandidates(sentiment, {
      label: 'label',
      types: { sentence: 'text' },
      algorithms: ['lr', 'gbdt', 'rf'],
    });
    expect(run.candidates.map((c) => c.algorithm)).toEqual(['lr']);
    expect(run.skipped).toEqual([
      { algorithm: 'gbdt', reason: 'does not train on text features' },
      { algorithm: 'rf', reason: 'does not train on text features' },
    ]);
  });

  test('trains with a class of a single row, wherever the content split puts that row', () => {
    // The row's part follows from its content and the seed: find a seed that puts it in the
    // holdout and one that puts it in train + validation, and train under both.
    const rows = ['x,label', ...Array.from({ length: 30 }, (_, i) => `${i % 10},a`), '99,b'];
    const table = loadTable([files.write('rare.csv', rows.join('\n'))]);
    const partOfRare = (seed: number) =>
      Array.from(labelledSplit(table, { label: 'label' }, seed).split.holdout).includes(30) ? 'holdout' : 'pool';
    const seeds = ['holdout', 'pool'].map((part) =>
      Array.from({ length: 100 }, (_, s) => s).find((s) => partOfRare(s) === part),
    );
    for (const seed of seeds) {
      expect(seed).toBeDefined();
      const run = trainCandidates(table, { label: 'label', algorithms: ['nb', 'lr'], seed });
      expect(run.classes).toEqual(['a', 'b']);
      for (const c of run.candidates) expect(c.holdoutProbabilities).toHaveLength(run.split.holdout.length * 2);
      // Under k-fold the rare row is in exactly one fold when it is in the pool.
      const inFolds = (run.cvFolds ?? []).filter((f) => Array.from(f).includes(30)).length;
      expect(inFolds).toBe(partOfRare(seed as number) === 'pool' ? 1 : 0);
    }
  });

  test('fails with a clear error when there are too few rows to split', () => {
    const table = loadTable([files.write('tiny.csv', 'x,label\n1,a\n2,a\n3,b\n4,b\n')]);
    expect(() => trainCandidates(table, { label: 'label' })).toThrow(DataError);
    expect(() => trainCandidates(table, { label: 'label' })).toThrow(
      /too few rows \(4\) to split into train, validation and holdout for 2 classes/,
    );
  });
});
