import { baselineProblems } from '../../core/monitoring/baseline';
import type { CategoricalBaseline, NumericBaseline, TextBaseline } from '../../core/monitoring/contract';
import { TRAINERS } from '../../training/algorithms';
import type { AlgorithmName, FittedModel, Trainer } from '../../training/algorithms/types';
import { predictedClasses } from '../../training/baseline';
import { loadTable } from '../../core/data/load';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

/**
 * Real naive Bayes (so the model exports to ONNX) whose trainer-side probabilities always put
 * class index `predicts` first: what the baseline's predictions come from.
 */
function saying(algorithm: AlgorithmName, predicts: number): Trainer {
  return {
    ...TRAINERS.nb,
    algorithm,
    fit(train, params, context) {
      const real = TRAINERS.nb.fit(train, params, context);
      const model: FittedModel = {
        algorithm,
        params,
        nClasses: train.nClasses,
        predictProba: (x) =>
          Float64Array.from({ length: x.rows * train.nClasses }, (_, i) => (i % train.nClasses === predicts ? 1 : 0)),
        parameterCount: () => real.parameterCount(),
        toOnnx: (graph, features) => real.toOnnx(graph, features),
      };
      return model;
    },
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe("the manifest's baseline", () => {
  test("iris: valid, from the train part's raw values, with the chosen candidate's holdout predictions", () => {
    const table = loadDataset(DATASETS.iris);
    const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: ['nb'] });
    const { manifest } = exportModel(run, run.best, 'iris', table.sources);
    const baseline = manifest.baseline;
    if (!baseline) throw new Error('no baseline in the manifest');
    expect(baselineProblems(baseline, manifest)).toEqual([]);
    expect(baseline.rows).toBe(run.split.train.length);
    expect(baseline.rows).toBe(manifest.split.train);
    expect(baseline.features.map((f) => [f.feature, f.type])).toEqual(manifest.features.map((f) => [f.name, f.type]));
    for (const [c, f] of (baseline.features as NumericBaseline[]).entries()) {
      expect(sum(f.counts) + f.missing).toBe(run.split.train.length);
      // The range of the train rows only (the manifest's range covers train + validation).
      const values = Array.from(run.split.train, (r) => Number(table.rows[r][c]));
      expect([f.min, f.max]).toEqual([Math.min(...values), Math.max(...values)]);
    }
    // Counted independently: argmax of each holdout row.
    const expected: Record<string, number> = Object.fromEntries(run.classes.map((c) => [c, 0]));
    for (let r = 0; r < run.split.holdout.length; r++) {
      const p = Array.from(run.best.holdoutProbabilities.subarray(r * 3, r * 3 + 3));
      expected[run.classes[p.indexOf(Math.max(...p))]]++;
    }
    expect(baseline.predictions).toEqual(expected);
    expect(sum(Object.values(baseline.predictions))).toBe(manifest.split.holdout);
  });

  test("the predictions are the exported candidate's, not the best's or another's", () => {
    const table = loadDataset(DATASETS.iris);
    // lr always says virginica, nb always setosa.
    const run = trainCandidates(table, {
      ...trainOptionsFor(DATASETS.iris),
      algorithms: ['lr', 'nb'],
      trainers: { lr: saying('lr', 2), nb: saying('nb', 0) },
    });
    const holdout = run.split.holdout.length;
    const exported = (algorithm: AlgorithmName) => {
      const candidate = run.candidates.find((c) => c.algorithm === algorithm);
      if (!candidate) throw new Error(`${algorithm} not trained`);
      return exportModel(run, candidate, 'iris', table.sources).manifest.baseline?.predictions;
    };
    expect(exported('lr')).toEqual({ 'Iris-setosa': 0, 'Iris-versicolor': 0, 'Iris-virginica': holdout });
    expect(exported('nb')).toEqual({ 'Iris-setosa': holdout, 'Iris-versicolor': 0, 'Iris-virginica': 0 });
  });

  test('missing tokens in the file ("", "?", "NA") count as missing for every feature type', () => {
    const lines = ['size,colour,review,label'];
    const words = ['good', 'fine', 'great', 'bad', 'awful', 'poor'];
    for (let i = 0; i < 90; i++) {
      const size = i % 9 === 0 ? 'NA' : String((i * 37) % 50);
      const colour = i % 10 === 0 ? '?' : ['red', 'green', 'blue'][i % 3];
      const review = i % 15 === 0 ? '' : `this one is ${words[i % 6]} and ${words[(i * 5) % 6]} overall ${i}`;
      lines.push(`${size},${colour},${review},${i % 2 === 0 ? 'yes' : 'no'}`);
    }
    const table = loadTable([files.write('mixed.csv', lines.join('\n'))]);
    const run = trainCandidates(table, {
      label: 'label',
      types: { size: 'numeric', colour: 'categorical', review: 'text' },
      algorithms: ['nb'],
    });
    const baseline = exportModel(run, run.best, 'mixed', table.sources).manifest.baseline;
    if (!baseline) throw new Error('no baseline in the manifest');
    const train = Array.from(run.split.train, (r) => table.rows[r]);
    const [size, colour, review] = baseline.features as [NumericBaseline, CategoricalBaseline, TextBaseline];
    expect(size.missing).toBe(train.filter((r) => r[0] === 'NA').length);
    expect(colour.missing).toBe(train.filter((r) => r[1] === '?').length);
    expect(review.missing).toBe(train.filter((r) => r[2] === '').length);
    expect([size.missing, colour.missing, review.missing].every((m) => m > 0)).toBe(true);
    expect(Object.keys(colour.counts)).toEqual(['blue', 'green', 'red']);
    expect(sum(Object.values(colour.counts)) + colour.missing).toBe(baseline.rows);
    expect(sum(review.lengthCounts) + review.missing).toBe(baseline.rows);
    expect(sum(review.coverageCounts) + review.missing).toBe(baseline.rows);
    expect(review.vocabulary.slice(0, 4)).toEqual(['and', 'is', 'one', 'overall']);
  });
});

describe('predictedClasses', () => {
  test("takes each row's argmax, the first class on a tie (as the graph's ArgMax)", () => {
    const p = Float64Array.from([0.2, 0.5, 0.3, 0.4, 0.4, 0.2, 0.1, 0.1, 0.8]);
    expect(Array.from(predictedClasses(p, ['a', 'b', 'c']).predicted)).toEqual([1, 0, 2]);
  });
});
