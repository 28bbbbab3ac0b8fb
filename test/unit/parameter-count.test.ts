import { GbdtModel, gbdtTrainer } from '../../training/algorithms/gbdt';
import { linearSvmTrainer } from '../../training/algorithms/linear-svm';
import { logisticRegressionTrainer } from '../../training/algorithms/logistic-regression';
import { naiveBayesTrainer } from '../../training/algorithms/naive-bayes';
import { RandomForestModel, randomForestTrainer } from '../../training/algorithms/random-forest';
import type { EncodedColumn, FitContext, TrainingSet } from '../../training/algorithms/types';
import { csrFromDense } from '../../training/matrix';

/** Rows [i, (i * 7) % 5, ...] with labels i % nClasses: small, learnable enough, every class present. */
function set(rows: number, cols: number, nClasses: number): TrainingSet {
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) data[r * cols + j] = j === 0 ? r % nClasses : ((r + j) * 7) % 5;
  return {
    x: csrFromDense({ rows, cols, data }),
    y: Int32Array.from({ length: rows }, (_, r) => r % nClasses),
    nClasses,
  };
}

const numeric = (cols: number): EncodedColumn[] =>
  Array.from({ length: cols }, (_, j) => ({ kind: 'numeric', feature: `x${j}` }));
const context = (cols: number): FitContext => ({ seed: 1, columns: numeric(cols) });

describe('parameterCount', () => {
  test('logistic regression: weights + intercepts (one score for two classes)', () => {
    expect(logisticRegressionTrainer.fit(set(12, 3, 2), { C: 1 }, context(3)).parameterCount()).toBe(3 + 1);
    expect(logisticRegressionTrainer.fit(set(12, 2, 3), { C: 1 }, context(2)).parameterCount()).toBe(2 * 3 + 3);
  });

  test('linear SVM: weights + intercepts per one-vs-rest score', () => {
    expect(linearSvmTrainer.fit(set(12, 3, 2), { C: 1 }, context(3)).parameterCount()).toBe(3 + 1);
    expect(linearSvmTrainer.fit(set(12, 2, 3), { C: 1 }, context(2)).parameterCount()).toBe(2 * 3 + 3);
  });

  test('naive Bayes: per class a mean and a variance per numeric column, a log likelihood per discrete column, a prior', () => {
    // Two numeric columns and one categorical feature one-hot encoded into three columns.
    const rows = 12;
    const data = new Float64Array(rows * 5);
    for (let r = 0; r < rows; r++)
      data.set([r, r % 3, r % 3 === 0 ? 1 : 0, r % 3 === 1 ? 1 : 0, r % 3 === 2 ? 1 : 0], r * 5);
    const train: TrainingSet = {
      x: csrFromDense({ rows, cols: 5, data }),
      y: Int32Array.from({ length: rows }, (_, r) => r % 2),
      nClasses: 2,
    };
    const columns: EncodedColumn[] = [
      ...numeric(2),
      ...['a', 'b', 'c'].map((): EncodedColumn => ({ kind: 'onehot', feature: 'colour' })),
    ];
    const model = naiveBayesTrainer.fit(train, naiveBayesTrainer.grid()[0], { seed: 1, columns });
    expect(model.parameterCount()).toBe(2 * (2 * 2 + 3 + 1));
  });

  test('random forest: nodes over all trees (a tree that cannot split is one leaf)', () => {
    const constant: TrainingSet = {
      x: csrFromDense({ rows: 6, cols: 1, data: new Float64Array(6) }),
      y: Int32Array.from([0, 1, 0, 1, 0, 1]),
      nClasses: 2,
    };
    expect(randomForestTrainer.fit(constant, { nTrees: 3 }, context(1)).parameterCount()).toBe(3);
    // Separable on the one column: each tree is one leaf (a bootstrap of one class) or a split and two leaves.
    const separable: TrainingSet = {
      x: csrFromDense({ rows: 6, cols: 1, data: Float64Array.from([0, 0, 0, 1, 1, 1]) }),
      y: Int32Array.from([0, 0, 0, 1, 1, 1]),
      nClasses: 2,
    };
    const forest = randomForestTrainer.fit(separable, { nTrees: 4 }, context(1)) as RandomForestModel;
    const sizes = forest.trees.map((t) => t.left.length);
    for (const size of sizes) expect([1, 3]).toContain(size);
    expect(forest.parameterCount()).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  test('gbdt: nodes over all trees, one tree per iteration (binary) or per class and iteration', () => {
    // 40 rows, label = x >= 20, leaves of at least 20 rows: every tree is one split and two leaves.
    const rows = 40;
    const binary: TrainingSet = {
      x: csrFromDense({ rows, cols: 1, data: Float64Array.from({ length: rows }, (_, r) => r) }),
      y: Int32Array.from({ length: rows }, (_, r) => (r >= 20 ? 1 : 0)),
      nClasses: 2,
    };
    const model = gbdtTrainer.fit(binary, { maxIter: 2 }, context(1)) as GbdtModel;
    expect(model.trees.map((t) => t.left.length)).toEqual([3, 3]);
    expect(model.parameterCount()).toBe(6);
    const three = gbdtTrainer.fit(
      { ...binary, y: Int32Array.from({ length: rows }, (_, r) => (r < 20 ? 0 : r < 30 ? 1 : 2)), nClasses: 3 },
      { maxIter: 1, minSamplesLeaf: 10 },
      context(1),
    ) as GbdtModel;
    expect(three.trees).toHaveLength(3);
    expect(three.parameterCount()).toBe(three.trees.reduce((s, t) => s + t.left.length, 0));
  });
});
