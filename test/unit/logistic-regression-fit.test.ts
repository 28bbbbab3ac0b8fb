import { minimize } from '../../training/algorithms/lbfgs';
import {
  addScoreGradient,
  denseBinaryObjective,
  finishL2Objective,
  l2SolverOptions,
  linearScores,
  logisticRegressionTrainer,
  prefersDense,
  softplus,
} from '../../training/algorithms/logistic-regression';
import type { TrainingSet } from '../../training/algorithms/types';
import { csrFromDense, toFloat32 } from '../../training/matrix';
import { Rng } from '../../training/rng';

/** Float32 features: three one-hot columns and five numeric ones, a label that depends on them. */
function binaryData(rows: number, seed: number): TrainingSet {
  const rng = new Rng(seed);
  const cols = 8;
  const data = new Float64Array(rows * cols);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    data[r * cols + rng.int(3)] = 1;
    let z = -1;
    for (let j = 3; j < cols; j++) {
      const v = Math.fround((rng.next() - 0.5) * 4);
      data[r * cols + j] = v;
      z += (j - 5) * v;
    }
    y[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { x: csrFromDense({ rows, cols, data }), y, nClasses: 2 };
}

/** The objective as the sparse path computes it: scores, then per-row loss and d loss / d score. */
function sparseObjective(train: TrainingSet, C: number, w: Float64Array, grad: Float64Array): number {
  const { x, y } = train;
  const z = linearScores(x, w, w.subarray(x.cols), 1);
  let loss = 0;
  for (let r = 0; r < x.rows; r++) {
    loss += softplus(z[r]) - y[r] * z[r];
    z[r] = 1 / (1 + Math.exp(-z[r])) - y[r];
  }
  grad.fill(0);
  addScoreGradient(x, z, 1, grad);
  return finishL2Objective(loss, w, grad, x.cols, C, x.rows);
}

const context = { seed: 1, columns: [] };

describe('logistic regression fitting', () => {
  it('the fused dense objective gives the sparse objective loss and gradient', () => {
    const train = binaryData(2000, 3);
    const rng = new Rng(9);
    for (const scale of [0.1, 3, 40]) {
      const w = Float64Array.from({ length: train.x.cols + 1 }, () => (rng.next() - 0.5) * scale);
      const dense = new Float64Array(w.length);
      const sparse = new Float64Array(w.length);
      const fDense = denseBinaryObjective(toFloat32(train.x), train.x.cols, train.y, 0.5)(w, dense);
      const fSparse = sparseObjective(train, 0.5, w, sparse);
      expect(Math.abs(fDense - fSparse)).toBeLessThan(1e-12 * Math.max(1, fSparse));
      for (let i = 0; i < w.length; i++) expect(Math.abs(dense[i] - sparse[i])).toBeLessThan(1e-12);
    }
  });

  it('walks the dense copy only for low-dimensional, mostly non-zero matrices', () => {
    expect(prefersDense(binaryData(100, 1).x)).toBe(true);
    // A TF-IDF-like block: 1,000 columns, two non-zeros per row.
    const rows = 50;
    const cols = 1000;
    const data = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) data[r * cols + ((r * 7) % cols)] = data[r * cols + ((r * 13 + 1) % cols)] = 0.7;
    expect(prefersDense(csrFromDense({ rows, cols, data }))).toBe(false);
  });

  it('a fit does not depend on the fits that ran before it on the same matrix (warm starts)', () => {
    const shared = binaryData(3000, 5);
    // The grid's order on one matrix, as training/train.ts runs it.
    const afterGrid = [1, 0.1, 10, 100].map((C) => logisticRegressionTrainer.fit(shared, { C }, context));
    for (const [i, C] of [1, 0.1, 10, 100].entries()) {
      const alone = binaryData(3000, 5); // the same numbers in a new matrix: nothing cached for it
      const model = logisticRegressionTrainer.fit(alone, { C }, context);
      expect(afterGrid[i].predictProba(shared.x)).toEqual(model.predictProba(alone.x));
    }
  });

  it('grid points fitted from the warm start land on the optimum a cold start reaches', () => {
    const train = binaryData(3000, 7);
    const rows = train.x.rows;
    for (const C of [0.1, 10, 100]) {
      const model = logisticRegressionTrainer.fit(train, { C }, context);
      // The cold fit, minimised directly from zero on the same objective.
      const cold = minimize(
        (w, g) => sparseObjective(train, C, w, g),
        new Float64Array(train.x.cols + 1),
        l2SolverOptions(C, rows),
      );
      const coldProba = linearScores(train.x, cold.w, cold.w.subarray(train.x.cols), 1).map(
        (z) => 1 / (1 + Math.exp(-z)),
      );
      const warm = model.predictProba(train.x);
      let worst = 0;
      for (let r = 0; r < rows; r++) worst = Math.max(worst, Math.abs(warm[2 * r + 1] - coldProba[r]));
      // Float32 rounding of the weights alone moves probabilities by ~1e-7.
      expect(worst).toBeLessThan(2e-6);
    }
  });
});

describe('minimize predictedTol', () => {
  const bowl = (w: Float64Array, g: Float64Array): number => {
    g[0] = w[0];
    g[1] = 4 * w[1];
    return 1 + 0.5 * w[0] ** 2 + 2 * w[1] ** 2;
  };

  it('stops before a step predicted to gain less than predictedTol of the loss', () => {
    const result = minimize(bowl, Float64Array.from([1e-7, 0]), { gradTol: 0, relTol: 0, predictedTol: 1e-12 });
    expect(result.reason).toBe('relative-loss');
    expect(result.iterations).toBe(0);
    expect(result.evaluations).toBe(1);
  });

  it('is off by default: the same start is solved to the gradient tolerance', () => {
    const result = minimize(bowl, Float64Array.from([1e-7, 0]), { gradTol: 1e-20, relTol: 0 });
    expect(result.reason).toBe('gradient');
    expect(result.iterations).toBeGreaterThan(0);
  });
});
