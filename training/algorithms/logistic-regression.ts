/**
 * L2-regularised logistic regression, the same objective as scikit-learn's
 * LogisticRegression(solver='lbfgs'): C * sum(log loss) + 0.5 * ||W||^2 with unpenalised
 * intercepts; binary problems get one weight vector, three or more classes a multinomial softmax.
 */
import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { minimize } from './lbfgs';
import type { FittedModel, Params, Trainer, TrainingSet } from './types';

/**
 * Scores [rows, k] = x @ W + b, W row-major [cols, k]. Walks the sparse entries only, so a
 * 20,000-column TF-IDF block costs what its non-zeros cost.
 */
export function linearScores(x: CsrMatrix, w: ArrayLike<number>, b: ArrayLike<number>, k: number): Float64Array {
  const z = new Float64Array(x.rows * k);
  for (let r = 0; r < x.rows; r++) {
    const o = r * k;
    for (let c = 0; c < k; c++) z[o + c] = b[c];
    for (let p = x.rowPtr[r]; p < x.rowPtr[r + 1]; p++) {
      const v = x.values[p];
      const wo = x.colIdx[p] * k;
      for (let c = 0; c < k; c++) z[o + c] += v * w[wo + c];
    }
  }
  return z;
}

/**
 * Appends `features @ W + b` and returns the scores' name. With k = 1 (one binary score) it
 * emits a [D, 2] matrix whose first column is zero, so Softmax over the two columns yields
 * exactly [1 - sigmoid(z), sigmoid(z)] and binary and multiclass heads share one shape.
 */
export function linearScoresOnnx(
  graph: GraphBuilder,
  features: string,
  prefix: string,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  cols: number,
  k: number,
): string {
  const out = k === 1 ? 2 : k;
  const wm = new Float32Array(cols * out);
  const bm = new Float32Array(out);
  for (let j = 0; j < cols; j++) for (let c = 0; c < k; c++) wm[j * out + out - k + c] = w[j * k + c];
  for (let c = 0; c < k; c++) bm[out - k + c] = b[c];
  const product = graph.op('MatMul', [features, graph.floats(`${prefix}_w`, wm, [cols, out])]);
  return graph.op('Add', [product, graph.floats(`${prefix}_b`, bm, [out])]);
}

/** Numerically stable log(1 + e^z). */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Turns scores into probabilities in place-free form: sigmoid pairs for k = 1, softmax rows otherwise. */
function probabilities(z: Float64Array, rows: number, k: number): Float64Array {
  if (k === 1) {
    const p = new Float64Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      const q = 1 / (1 + Math.exp(-z[r]));
      p[2 * r] = 1 - q;
      p[2 * r + 1] = q;
    }
    return p;
  }
  const p = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[r * k + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += p[r * k + c] = Math.exp(z[r * k + c] - max);
    for (let c = 0; c < k; c++) p[r * k + c] /= sum;
  }
  return p;
}

/** Reads a positive numeric hyper-parameter, so a bad grid fails loudly instead of training nonsense. */
export function positiveParam(params: Params, name: string, fallback: number): number {
  const value = params[name] ?? fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`${name} must be a positive number, got ${value}`);
  return value;
}

/**
 * Fits weights (layout [cols, k] then k intercepts). The objective is divided by the row count
 * (as scikit-learn does since 1.1): same minimiser, but gradient tolerances stop depending on n.
 */
function fitWeights(train: TrainingSet, C: number, k: number): { params: Float64Array; iterations: number } {
  const { x, y } = train;
  const n = x.rows;
  const dk = x.cols * k;
  const z = new Float64Array(k);
  const objective = (w: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) z[c] = w[dk + c];
      for (let p = x.rowPtr[r]; p < x.rowPtr[r + 1]; p++) {
        const wo = x.colIdx[p] * k;
        for (let c = 0; c < k; c++) z[c] += x.values[p] * w[wo + c];
      }
      if (k === 1) {
        const t = y[r] === 1 ? 1 : 0;
        loss += softplus(z[0]) - t * z[0];
        z[0] = 1 / (1 + Math.exp(-z[0])) - t;
      } else {
        let max = -Infinity;
        for (let c = 0; c < k; c++) max = Math.max(max, z[c]);
        let sum = 0;
        for (let c = 0; c < k; c++) sum += Math.exp(z[c] - max);
        loss += max + Math.log(sum) - z[y[r]];
        for (let c = 0; c < k; c++) z[c] = Math.exp(z[c] - max) / sum - (c === y[r] ? 1 : 0);
      }
      // z now holds d loss / d score for this row.
      for (let p = x.rowPtr[r]; p < x.rowPtr[r + 1]; p++) {
        const wo = x.colIdx[p] * k;
        for (let c = 0; c < k; c++) grad[wo + c] += x.values[p] * z[c];
      }
      for (let c = 0; c < k; c++) grad[dk + c] += z[c];
    }
    let penalty = 0;
    for (let i = 0; i < dk; i++) penalty += w[i] * w[i];
    const lambda = 1 / (C * n);
    for (let i = 0; i < dk; i++) grad[i] = grad[i] / n + lambda * w[i];
    for (let c = 0; c < k; c++) grad[dk + c] /= n;
    return loss / n + 0.5 * lambda * penalty;
  };
  const result = minimize(objective, new Float64Array(dk + k), { maxIterations: 500, gradTol: 1e-6, relTol: 1e-10 });
  return { params: result.w, iterations: result.iterations };
}

class LogisticRegressionModel implements FittedModel {
  readonly algorithm = 'lr' as const;

  constructor(
    readonly params: Params,
    readonly nClasses: number,
    private readonly cols: number,
    private readonly k: number,
    private readonly w: Float64Array,
    private readonly b: Float64Array,
  ) {}

  predictProba(x: CsrMatrix): Float64Array {
    return probabilities(linearScores(x, this.w, this.b, this.k), x.rows, this.k);
  }

  toOnnx(graph: GraphBuilder, features: string): string {
    const scores = linearScoresOnnx(graph, features, 'lr', this.w, this.b, this.cols, this.k);
    return graph.op('Softmax', [scores], { axis: 1 });
  }
}

export const logisticRegressionTrainer: Trainer = {
  algorithm: 'lr',
  supportsText: true,
  grid: () => [{ C: 1 }, { C: 0.1 }, { C: 10 }, { C: 100 }],
  fit(train, params, context) {
    const C = positiveParam(params, 'C', 1);
    if (train.nClasses < 2) throw new Error('logistic regression needs at least two classes');
    const k = train.nClasses === 2 ? 1 : train.nClasses;
    const { params: fitted, iterations } = fitWeights(train, C, k);
    const dk = train.x.cols * k;
    // Softmax ignores a common shift of the intercepts; centring them makes the fit canonical.
    let mean = 0;
    if (k > 1) for (let c = 0; c < k; c++) mean += fitted[dk + c] / k;
    // Rounded to float32 so predictProba and the ONNX graph use the very same parameters.
    const w = Float64Array.from(fitted.subarray(0, dk), Math.fround);
    const b = Float64Array.from(fitted.subarray(dk), (v) => Math.fround(v - mean));
    context.onProgress?.(`lr C=${C}: ${iterations} L-BFGS iterations`);
    return new LogisticRegressionModel({ ...params, C }, train.nClasses, train.x.cols, k, w, b);
  },
};
