import * as fs from 'fs';
import * as path from 'path';
import { GbdtModel, gbdtTrainer } from '../../training/algorithms/gbdt';
import { binColumns, edgesOf } from '../../training/algorithms/histogram';
import { randomForestTrainer } from '../../training/algorithms/random-forest';
import type { FitContext, FittedModel, Trainer, TrainingSet } from '../../training/algorithms/types';
import { csrFromDense, selectRows } from '../../training/matrix';
import { Rng } from '../../training/rng';
import { maxAbsDiff, runHeadInOnnxRuntime } from '../helpers/onnx-head';

const context: FitContext = { seed: 7, columns: [] };

/**
 * Learnable synthetic rows: two continuous features, an integer feature with many ties, a
 * two-column one-hot block and a noise column; all float32-rounded like encoded features.
 */
function synthetic(rows: number, nClasses: number, seed: number): TrainingSet {
  const rng = new Rng(seed);
  const cols = 6;
  const data = new Float64Array(rows * cols);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = Math.fround(rng.next() * 4 - 2);
    const b = Math.fround(rng.next() * 4 - 2);
    const ties = rng.int(5);
    const cat = rng.int(3);
    const noise = Math.fround(rng.next());
    data.set([a, b, ties, cat === 1 ? 1 : 0, cat === 2 ? 1 : 0, noise], r * cols);
    const score = a + 0.5 * ties - 1 + (cat === 1 ? 1 : 0) + (rng.next() - 0.5);
    if (nClasses === 2) y[r] = score > 0 ? 1 : 0;
    else y[r] = score < -0.7 ? 0 : b > 0.3 * ties ? 1 : 2;
  }
  return { x: csrFromDense({ rows, cols, data }), y, nClasses };
}

function subset(set: TrainingSet, indices: number[]): TrainingSet {
  return { x: selectRows(set.x, indices), y: Int32Array.from(indices, (i) => set.y[i]), nClasses: set.nClasses };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function accuracy(model: FittedModel, set: TrainingSet): number {
  const p = model.predictProba(set.x);
  const C = set.nClasses;
  let correct = 0;
  for (let r = 0; r < set.x.rows; r++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (p[r * C + c] > p[r * C + best]) best = c;
    if (best === set.y[r]) correct++;
  }
  return correct / set.x.rows;
}

/** Largest |row sum - 1| of a row-major probability matrix. */
function rowSumError(p: ArrayLike<number>, C: number): number {
  let worst = 0;
  for (let r = 0; r < p.length / C; r++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += p[r * C + c];
    worst = Math.max(worst, Math.abs(sum - 1));
  }
  return worst;
}

async function expectOnnxParity(model: FittedModel, test: TrainingSet): Promise<void> {
  const onnx = await runHeadInOnnxRuntime(model, test.x);
  const js = model.predictProba(test.x);
  expect(maxAbsDiff(onnx, js)).toBeLessThan(1e-5);
  expect(rowSumError(onnx, model.nClasses)).toBeLessThan(1e-5);
  expect(rowSumError(js, model.nClasses)).toBeLessThan(1e-5);
}

function iris(): { train: TrainingSet; test: TrainingSet } {
  const lines = fs
    .readFileSync(path.join(__dirname, '../../training/datasets/iris.csv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const names = [...new Set(lines.map((l) => l.split(',')[4].trim()))];
  const data = new Float64Array(lines.length * 4);
  const y = new Int32Array(lines.length);
  lines.forEach((line, r) => {
    const fields = line.split(',');
    for (let c = 0; c < 4; c++) data[r * 4 + c] = Math.fround(Number(fields[c]));
    y[r] = names.indexOf(fields[4].trim());
  });
  const all = { x: csrFromDense({ rows: lines.length, cols: 4, data }), y, nClasses: 3 };
  // Every third row of each class is held out: the file is grouped by class, so this stratifies.
  const seen = [0, 0, 0];
  const train: number[] = [];
  const test: number[] = [];
  for (let r = 0; r < lines.length; r++) (seen[y[r]]++ % 3 === 0 ? test : train).push(r);
  return { train: subset(all, train), test: subset(all, test) };
}

describe('histogram binning', () => {
  it('makes one bin per distinct value, with edges that are training values', () => {
    const edges = edgesOf(Float32Array.from([3, 1, 2, 2, 1, 3, 5]));
    expect(Array.from(edges)).toEqual([1, 2, 3]);
  });

  it('caps the bins at quantiles whose edges split lower bins (<=) from higher ones', () => {
    const rng = new Rng(3);
    const column = Float32Array.from({ length: 2000 }, () => rng.next());
    const edges = edgesOf(column, 16);
    expect(edges.length).toBeLessThanOrEqual(15);
    const binned = binColumns(csrFromDense({ rows: 2000, cols: 1, data: Float64Array.from(column) }), 16);
    let misplaced = 0;
    for (let r = 0; r < column.length; r++) {
      const b = binned.bins[r];
      if (b < edges.length && !(column[r] <= edges[b])) misplaced++;
      if (b > 0 && !(column[r] > edges[b - 1])) misplaced++;
    }
    expect(misplaced).toBe(0);
  });
});

describe.each<[string, Trainer]>([
  ['gbdt', gbdtTrainer],
  ['rf', randomForestTrainer],
])('%s', (_name, trainer) => {
  it.each([2, 3])('matches onnxruntime on held-out rows (%i classes)', async (nClasses) => {
    const set = synthetic(500, nClasses, 11);
    const model = trainer.fit(subset(set, range(0, 300)), trainer.grid()[0], context);
    await expectOnnxParity(model, subset(set, range(300, 500)));
  });

  it('matches onnxruntime on iris and holds out >= 90% accuracy', async () => {
    const { train, test } = iris();
    const model = trainer.fit(train, trainer.grid()[0], context);
    await expectOnnxParity(model, test);
    expect(accuracy(model, test)).toBeGreaterThanOrEqual(0.9);
  });

  it('gives identical probabilities for the same seed', () => {
    const set = synthetic(400, 3, 5);
    const train = subset(set, range(0, 300));
    const test = subset(set, range(300, 400));
    const a = trainer.fit(train, trainer.grid()[0], context).predictProba(test.x);
    const b = trainer.fit(train, trainer.grid()[0], context).predictProba(test.x);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('clearly beats the majority class on a learnable problem', () => {
    const set = synthetic(1500, 2, 21);
    const test = subset(set, range(1000, 1500));
    let positives = 0;
    for (const label of test.y) positives += label;
    const majority = Math.max(positives, test.y.length - positives) / test.y.length;
    const model = trainer.fit(subset(set, range(0, 1000)), trainer.grid()[0], context);
    expect(accuracy(model, test)).toBeGreaterThan(majority + 0.2);
  });

  it('fits and exports every grid entry', async () => {
    const set = synthetic(300, 3, 9);
    for (const params of trainer.grid()) {
      const model = trainer.fit(subset(set, range(0, 200)), params, context);
      await expectOnnxParity(model, subset(set, range(200, 300)));
    }
  });
});

describe('gbdt specifics', () => {
  it('stops early on a validation set when more trees stop helping', () => {
    const set = synthetic(900, 2, 4);
    // Noise labels: nothing generalises, so the validation loss stops improving quickly.
    const rng = new Rng(1);
    const noisy = { ...set, y: Int32Array.from(set.y, () => rng.int(2)) };
    const model = gbdtTrainer.fit(
      subset(noisy, range(0, 600)),
      { maxIter: 200 },
      {
        ...context,
        validation: subset(noisy, range(600, 900)),
      },
    ) as GbdtModel;
    expect(model.iterations).toBeLessThan(200);
  });

  it('exports a model whose every leaf is zero (too few rows to split, balanced labels)', async () => {
    const set = { ...synthetic(30, 2, 8), y: Int32Array.from({ length: 30 }, (_, i) => i % 2) };
    const model = gbdtTrainer.fit(set, { maxIter: 3 }, context);
    await expectOnnxParity(model, set);
    expect(Array.from(model.predictProba(set.x).subarray(0, 2))).toEqual([0.5, 0.5]);
  });
});
