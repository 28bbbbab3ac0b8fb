import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { minimize } from '../../training/algorithms/lbfgs';
import { linearSvmTrainer } from '../../training/algorithms/linear-svm';
import { logisticRegressionTrainer } from '../../training/algorithms/logistic-regression';
import { naiveBayesTrainer } from '../../training/algorithms/naive-bayes';
import type { EncodedColumn, FittedModel, Trainer, TrainingSet } from '../../training/algorithms/types';
import { type CsrMatrix, csrFromDense, selectRows } from '../../training/matrix';
import { Rng } from '../../training/rng';
import { maxAbsDiff, runHeadInOnnxRuntime } from '../helpers/onnx-head';

const trainers: Trainer[] = [logisticRegressionTrainer, linearSvmTrainer, naiveBayesTrainer];

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

interface Dataset {
  train: TrainingSet;
  test: TrainingSet;
  columns: EncodedColumn[];
}

/** Rows whose class shifts the numeric columns and skews the categories of two one-hot blocks. */
function mixedData(nClasses: number, seed: number, rows = 400): Dataset {
  const rng = new Rng(seed);
  const numeric = 4;
  const blocks = [3, 4];
  const cols = numeric + blocks[0] + blocks[1];
  const data = new Float64Array(rows * cols);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const label = (y[r] = rng.int(nClasses));
    for (let j = 0; j < numeric; j++)
      data[r * cols + j] = Math.fround(gaussian(rng) + (j % nClasses === label ? 1.5 : 0));
    let offset = numeric;
    for (const size of blocks) {
      // Every tenth row has an unseen category: an all-zero block.
      if (rng.next() >= 0.1) data[r * cols + offset + (rng.next() < 0.6 ? label % size : rng.int(size))] = 1;
      offset += size;
    }
  }
  const columns: EncodedColumn[] = [
    ...Array.from({ length: numeric }, (_, j) => ({ kind: 'numeric' as const, feature: `n${j}` })),
    ...Array.from({ length: blocks[0] }, () => ({ kind: 'onehot' as const, feature: 'a' })),
    ...Array.from({ length: blocks[1] }, () => ({ kind: 'onehot' as const, feature: 'b' })),
  ];
  return split(csrFromDense({ rows, cols, data }), y, nClasses, columns, 0.75);
}

/** TF-IDF-like rows: ~10 of `cols` terms each, half drawn from the class's own vocabulary. */
function textData(nClasses: number, seed: number, rows = 800, cols = 2000): Dataset {
  const rng = new Rng(seed);
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  const y = new Int32Array(rows);
  const ownVocabulary = 100;
  for (let r = 0; r < rows; r++) {
    const label = (y[r] = rng.int(nClasses));
    const terms = new Map<number, number>();
    for (let t = 0; t < 10; t++) {
      const term = rng.next() < 0.5 ? label * ownVocabulary + rng.int(ownVocabulary) : rng.int(cols);
      terms.set(term, (terms.get(term) ?? 0) + 0.5 + rng.next());
    }
    const sorted = [...terms.entries()].sort((a, b) => a[0] - b[0]);
    const norm = Math.sqrt(sorted.reduce((s, [, v]) => s + v * v, 0));
    for (const [term, v] of sorted) {
      colIdx.push(term);
      values.push(Math.fround(v / norm));
    }
    rowPtr[r + 1] = colIdx.length;
  }
  const x: CsrMatrix = { rows, cols, rowPtr, colIdx: Int32Array.from(colIdx), values: Float64Array.from(values) };
  const columns = Array.from({ length: cols }, () => ({ kind: 'text' as const, feature: 'review' }));
  return split(x, y, nClasses, columns, 0.75);
}

function split(x: CsrMatrix, y: Int32Array, nClasses: number, columns: EncodedColumn[], share: number): Dataset {
  const cut = Math.round(x.rows * share);
  const part = (from: number, to: number): TrainingSet => {
    const idx = Int32Array.from({ length: to - from }, (_, i) => from + i);
    return { x: selectRows(x, idx), y: y.slice(from, to), nClasses };
  };
  return { train: part(0, cut), test: part(cut, x.rows), columns };
}

function fit(trainer: Trainer, data: Dataset, params = trainer.grid()[0]): FittedModel {
  return trainer.fit(data.train, params, { seed: 1, columns: data.columns });
}

function accuracy(p: Float64Array, y: Int32Array, k: number): number {
  let hits = 0;
  for (let r = 0; r < y.length; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[r * k + c] > p[r * k + best]) best = c;
    if (best === y[r]) hits++;
  }
  return hits / y.length;
}

/** Checks the ONNX head against predictProba on held-out rows; returns the largest difference. */
async function expectParity(model: FittedModel, x: CsrMatrix): Promise<number> {
  const expected = model.predictProba(x);
  const actual = await runHeadInOnnxRuntime(model, x);
  const diff = maxAbsDiff(actual, expected);
  expect(diff).toBeLessThan(1e-5);
  const k = model.nClasses;
  for (let r = 0; r < x.rows; r++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += expected[r * k + c];
    expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
  }
  return diff;
}

describe('minimize (L-BFGS)', () => {
  it('solves an ill-conditioned quadratic', () => {
    // f = 0.5 sum a_i (w_i - t_i)^2 with curvatures from 1 to 100. scipy's L-BFGS-B needs 108
    // iterations for this problem; so should we, give or take the line search's choices.
    const n = 50;
    const a = Float64Array.from({ length: n }, (_, i) => 10 ** ((2 * i) / (n - 1)));
    const t = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const result = minimize(
      (w, g) => {
        let f = 0;
        for (let i = 0; i < n; i++) {
          g[i] = a[i] * (w[i] - t[i]);
          f += 0.5 * a[i] * (w[i] - t[i]) ** 2;
        }
        return f;
      },
      new Float64Array(n),
      { gradTol: 1e-9, relTol: 0 },
    );
    expect(result.reason).toBe('gradient');
    expect(result.iterations).toBeLessThan(150);
    expect(maxAbsDiff(result.w, t)).toBeLessThan(1e-9);
  });

  it('finds the Rosenbrock minimum', () => {
    const result = minimize(
      (w, g) => {
        const [u, v] = w;
        g[0] = -2 * (1 - u) - 400 * u * (v - u * u);
        g[1] = 200 * (v - u * u);
        return (1 - u) ** 2 + 100 * (v - u * u) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { gradTol: 1e-10, relTol: 0 },
    );
    expect(result.reason).toBe('gradient');
    expect(maxAbsDiff(result.w, [1, 1])).toBeLessThan(1e-8);
    expect(result.iterations).toBeLessThan(100);
  });

  it('backs off from steps that leave the domain of the objective', () => {
    // f = sum w - log(w): the secant steps overshoot into w <= 0, where f is NaN.
    let outside = 0;
    const result = minimize(
      (w, g) => {
        let f = 0;
        for (let i = 0; i < w.length; i++) {
          if (!(w[i] > 0)) outside++;
          f += w[i] - Math.log(w[i]);
          g[i] = 1 - 1 / w[i];
        }
        return f;
      },
      Float64Array.from([5, 8]),
      { gradTol: 1e-10 },
    );
    expect(outside).toBeGreaterThan(0);
    expect(result.reason).toBe('gradient');
    expect(maxAbsDiff(result.w, [1, 1])).toBeLessThan(1e-9);
  });

  it('leaves the start vector untouched and stops at once at a stationary point', () => {
    const w0 = Float64Array.from([0, 0]);
    const result = minimize((w, g) => {
      g[0] = 2 * w[0];
      g[1] = 2 * w[1];
      return w[0] ** 2 + w[1] ** 2;
    }, w0);
    expect(result.iterations).toBe(0);
    expect(Array.from(w0)).toEqual([0, 0]);
  });
});

describe.each(trainers.map((t) => [t.algorithm, t] as const))('%s', (_name, trainer) => {
  it.each([2, 3])('matches onnxruntime on held-out mixed rows with %i classes', async (nClasses) => {
    const data = mixedData(nClasses, 7 + nClasses);
    const model = fit(trainer, data);
    expect(model.nClasses).toBe(nClasses);
    await expectParity(model, data.test.x);
    expect(accuracy(model.predictProba(data.test.x), data.test.y, nClasses)).toBeGreaterThan(0.6);
  });

  it('matches onnxruntime for every grid point', async () => {
    const data = mixedData(3, 21, 200);
    for (const params of trainer.grid()) await expectParity(fit(trainer, data, params), data.test.x);
  });

  it.each([2, 3])('learns sparse 2,000-column text with %i classes', async (nClasses) => {
    const data = textData(nClasses, 40 + nClasses);
    const model = fit(trainer, data);
    await expectParity(model, data.test.x);
    // Half of each row's terms come from the class vocabulary, so chance is far below this.
    expect(accuracy(model.predictProba(data.test.x), data.test.y, nClasses)).toBeGreaterThan(
      nClasses === 2 ? 0.85 : 0.75,
    );
  });

  it('stays finite and matches onnxruntime on rows far outside the training data', async () => {
    const data = mixedData(3, 11, 200);
    // Numeric columns at up to 30 standard deviations, one-hot blocks empty: scores and log
    // likelihoods are extreme and probabilities saturate; both sides must still agree.
    const patterns = [
      [-1, -1, -1, -1],
      [-0.6, -0.6, -0.6, -0.6],
      [-1, -0.3, -1, -0.3],
      [1, -1, -1, 1],
      [1, 1, 1, 1],
    ];
    const dense = patterns.flatMap((p) => [...p.map((v) => Math.fround(30 * v)), 0, 0, 0, 0, 0, 0, 0]);
    const far = csrFromDense({ rows: patterns.length, cols: data.train.x.cols, data: Float64Array.from(dense) });
    const model = fit(trainer, data);
    await expectParity(model, far);
    expect(model.predictProba(far).every(Number.isFinite)).toBe(true);
  });

  it('is deterministic', () => {
    const data = mixedData(3, 5, 200);
    expect(fit(trainer, data).predictProba(data.test.x)).toEqual(fit(trainer, data).predictProba(data.test.x));
  });
});

describe('nb', () => {
  it('keeps float32 parity when a class has a constant numeric column (tiny variance)', async () => {
    const data = mixedData(3, 13, 300);
    const pin = (set: TrainingSet): TrainingSet => {
      const values = Float64Array.from(set.x.values);
      // Column 0 is numeric and stored for every row: pin it to 0.75 for class 0.
      for (let r = 0; r < set.x.rows; r++) if (set.y[r] === 0) values[set.x.rowPtr[r]] = 0.75;
      return { ...set, x: { ...set.x, values } };
    };
    const pinned = { ...data, train: pin(data.train), test: pin(data.test) };
    const model = fit(naiveBayesTrainer, pinned);
    await expectParity(model, pinned.test.x);
    expect(accuracy(model.predictProba(pinned.test.x), pinned.test.y, 3)).toBeGreaterThan(0.8);
  });
});

describe('iris', () => {
  const lines = readFileSync(resolve(__dirname, '../../training/datasets/iris.csv'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const names = [...new Set(lines.map((line) => line.split(',')[4]))];
  const order = Int32Array.from(lines.keys());
  new Rng(2024).shuffle(order);
  const cut = 105;
  const raw = Array.from(order, (i) => lines[i].split(',').slice(0, 4).map(Number));
  const labels = Int32Array.from(order, (i) => names.indexOf(lines[i].split(',')[4]));
  const mean = [0, 1, 2, 3].map((j) => raw.slice(0, cut).reduce((s, row) => s + row[j], 0) / cut);
  const std = [0, 1, 2, 3].map((j) =>
    Math.sqrt(raw.slice(0, cut).reduce((s, row) => s + (row[j] - mean[j]) ** 2, 0) / cut),
  );
  const data = Float64Array.from(raw.flatMap((row) => row.map((v, j) => Math.fround((v - mean[j]) / std[j]))));
  const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((feature) => ({
    kind: 'numeric' as const,
    feature,
  }));
  const dataset = split(csrFromDense({ rows: lines.length, cols: 4, data }), labels, 3, columns, cut / lines.length);

  it.each(trainers.map((t) => [t.algorithm, t] as const))(
    '%s reaches 90%% holdout accuracy',
    async (_name, trainer) => {
      expect(names).toHaveLength(3);
      const model = fit(trainer, dataset);
      await expectParity(model, dataset.test.x);
      expect(accuracy(model.predictProba(dataset.test.x), dataset.test.y, 3)).toBeGreaterThanOrEqual(0.9);
    },
  );
});
