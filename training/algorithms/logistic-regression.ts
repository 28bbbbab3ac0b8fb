/**
 * L2-regularised logistic regression, the same objective as scikit-learn's
 * LogisticRegression(solver='lbfgs'): C * sum(log loss) + 0.5 * ||W||^2 with unpenalised
 * intercepts; binary problems get one weight vector, three or more classes a multinomial softmax.
 */
import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { type MinimizeOptions, type Objective, minimize } from './lbfgs';
import { denseOf } from './shared-views';
import type { FittedModel, Params, Trainer, TrainingSet } from './types';

/**
 * Scores [rows, k] = x @ W + b, W row-major [cols, k]. Walks the sparse entries only, so a
 * 20,000-column TF-IDF block costs what its non-zeros cost.
 */
export function linearScores(
  x: CsrMatrix,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  k: number,
  z = new Float64Array(x.rows * k),
): Float64Array {
  const { rowPtr, colIdx, values } = x;
  for (let r = 0; r < x.rows; r++) {
    const o = r * k;
    for (let c = 0; c < k; c++) z[o + c] = b[c];
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
      const v = values[p];
      const wo = colIdx[p] * k;
      for (let c = 0; c < k; c++) z[o + c] += v * w[wo + c];
    }
  }
  return z;
}

/** grad[cols * k + k] += [x^T dz ; column sums of dz]: the chain rule back through linearScores. */
export function addScoreGradient(x: CsrMatrix, dz: Float64Array, k: number, grad: Float64Array): void {
  const { rowPtr, colIdx, values } = x;
  const dk = x.cols * k;
  for (let r = 0; r < x.rows; r++) {
    const o = r * k;
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
      const v = values[p];
      const wo = colIdx[p] * k;
      for (let c = 0; c < k; c++) grad[wo + c] += v * dz[o + c];
    }
    for (let c = 0; c < k; c++) grad[dk + c] += dz[o + c];
  }
}

/**
 * Adds the L2 penalty ||W||^2 / (2 C n) (intercepts excluded) to the mean data loss, scaling the
 * data gradient by 1 / n in the same pass. Dividing by n, as scikit-learn does since 1.1, keeps
 * the numbers O(1) whatever the row count; the minimiser is unchanged.
 */
export function finishL2Objective(
  dataLoss: number,
  w: Float64Array,
  grad: Float64Array,
  dk: number,
  C: number,
  n: number,
): number {
  const lambda = 1 / (C * n);
  let penalty = 0;
  for (let i = 0; i < dk; i++) {
    penalty += w[i] * w[i];
    grad[i] = grad[i] / n + lambda * w[i];
  }
  for (let i = dk; i < grad.length; i++) grad[i] /= n;
  return dataLoss / n + 0.5 * lambda * penalty;
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

/** Sigmoid pairs [1 - p, p] for one binary score (k = 1), softmax rows otherwise. */
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
 * Tolerances for the mean-scaled L2 objectives. Its Hessian is at least lambda = 1 / (C n), so
 * max |gradient| <= 1e-6 * lambda keeps every weight within ~1e-6 * sqrt(D) of the optimum; the
 * relative-loss test is scipy's ftol that scikit-learn passes (64 machine epsilons), which in
 * practice ends the run first. Both are far tighter than scikit-learn's default tol=1e-4, so the
 * fit lands on the optimum itself rather than on wherever a looser solver happens to stop. A step
 * predicted to gain less than that relative-loss tolerance is not tried (predictedTol): at that
 * point the loss summed over the rows changes by rounding noise only.
 */
export function l2SolverOptions(C: number, n: number): MinimizeOptions {
  return {
    maxIterations: 500,
    gradTol: 1e-6 / (C * n),
    relTol: 64 * Number.EPSILON,
    predictedTol: 64 * Number.EPSILON,
  };
}

/**
 * Largest dense copy (rows x cols float32 entries, 128 MB) the binary objective walks instead of
 * the CSR arrays. Low-dimensional tabular data is nearly dense anyway, and the copy is the one
 * shared-views.ts already caches per matrix (gbdt reads it too).
 */
const DENSE_MAX_ENTRIES = 2 ** 25;

/** Dense pays off when at least this share of the entries are non-zero (one-hot + numeric blocks). */
const DENSE_MIN_DENSITY = 0.25;

/** Whether the binary objective should run on the dense float32 copy of `x`. */
export function prefersDense(x: CsrMatrix): boolean {
  const entries = x.rows * x.cols;
  return entries > 0 && entries <= DENSE_MAX_ENTRIES && x.values.length >= DENSE_MIN_DENSITY * entries;
}

/**
 * The binary (k = 1) objective over a dense row-major float32 matrix in two tight passes per
 * evaluation: each row's score, its log loss and d loss / d score (one exp and one log1p per row),
 * then the gradient, two rows per step so each gradient entry is loaded and stored half as often.
 * The features are float32 already (training/matrix.ts), so the dense copy holds the same numbers
 * as the CSR arrays; the scores sum in the same order, while the sigmoid of a negative score
 * (e / (1 + e) here) and the paired gradient sums can differ from the sparse path in the last bits.
 */
export function denseBinaryObjective(xd: Float32Array, cols: number, y: Int32Array, C: number): Objective {
  const dz = new Float64Array(y.length);
  return (w, grad) => finishL2Objective(denseBinaryPass(xd, cols, y, dz, w, grad), w, grad, cols, C, y.length);
}

/**
 * The data loss and its gradient (into `grad`) for denseBinaryObjective. A plain function of its
 * arguments rather than a closure: V8 specialises a closure's loop on its captured variables only
 * while one instance exists, and the second grid's objective then ran 1.7x slower per row.
 */
function denseBinaryPass(
  xd: Float32Array,
  cols: number,
  y: Int32Array,
  dz: Float64Array,
  w: Float64Array,
  grad: Float64Array,
): number {
  const n = y.length;
  const b = w[cols];
  let loss = 0;
  let gb = 0;
  for (let r = 0, o = 0; r < n; r++, o += cols) {
    let z = b;
    for (let j = 0; j < cols; j++) z += xd[o + j] * w[j];
    const t = y[r] === 1 ? 1 : 0;
    // e = exp(-|z|) gives both the stable softplus and the sigmoid.
    const e = Math.exp(z > 0 ? -z : z);
    const d = (z > 0 ? 1 / (1 + e) : e / (1 + e)) - t;
    loss += (z > 0 ? z : 0) + Math.log1p(e) - t * z;
    dz[r] = d;
    gb += d;
  }
  grad.fill(0);
  let r = 0;
  let o = 0;
  for (; r + 1 < n; r += 2, o += 2 * cols) {
    const d0 = dz[r];
    const d1 = dz[r + 1];
    for (let j = 0; j < cols; j++) grad[j] += xd[o + j] * d0 + xd[o + cols + j] * d1;
  }
  if (r < n) for (let j = 0; j < cols; j++) grad[j] += xd[o + j] * dz[r];
  grad[cols] = gb;
  return loss;
}

/**
 * Warm starts across a grid without making a fit depend on what ran before it. A grid fits the
 * same matrix (training/train.ts encodes each fold once) for several C values; a fit at C other
 * than ANCHOR_C starts from the optimum at ANCHOR_C on that matrix (cached per matrix, fitted from
 * zero once if absent) instead of from zero, which cuts its L-BFGS iterations by half or more.
 * The solver still runs to the same tight tolerances (l2SolverOptions), so the fit lands on the
 * same optimum within float noise, and fit(x, C) stays a pure function of x and C: the anchor is
 * always the same cold fit, whichever fits came first.
 */
const ANCHOR_C = 1; // the grid's default and first point, so the grid fits it first anyway
const anchors = new WeakMap<CsrMatrix, Float64Array>();

interface Fit {
  readonly params: Float64Array;
  readonly iterations: number;
  readonly evaluations: number;
  readonly reason: string;
}

/** Fits weights (layout [cols, k] then k intercepts) by L-BFGS on the mean-scaled objective. */
function fitWeights(train: TrainingSet, C: number, k: number): Fit {
  const { x } = train;
  const size = x.cols * k + k;
  let start: Float64Array = new Float64Array(size);
  if (C !== ANCHOR_C) {
    const anchor = anchors.get(x);
    start = anchor?.length === size ? anchor : fitFrom(train, ANCHOR_C, k, start).params;
  }
  return fitFrom(train, C, k, start);
}

function fitFrom(train: TrainingSet, C: number, k: number, start: Float64Array): Fit {
  const { x, y } = train;
  const n = x.rows;
  const dk = x.cols * k;
  const solve = (objective: Objective) => {
    const result = minimize(objective, start, l2SolverOptions(C, n));
    if (C === ANCHOR_C && result.converged) anchors.set(x, result.w);
    return { params: result.w, iterations: result.iterations, evaluations: result.evaluations, reason: result.reason };
  };
  if (k === 1 && prefersDense(x)) return solve(denseBinaryObjective(denseOf(x), x.cols, y, C));
  const z = new Float64Array(n * k);
  const objective = (w: Float64Array, grad: Float64Array): number => {
    linearScores(x, w, w.subarray(dk), k, z);
    let loss = 0;
    // Each row's scores are replaced by d loss / d score.
    for (let r = 0; r < n; r++) {
      if (k === 1) {
        const t = y[r] === 1 ? 1 : 0;
        loss += softplus(z[r]) - t * z[r];
        z[r] = 1 / (1 + Math.exp(-z[r])) - t;
        continue;
      }
      const o = r * k;
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[o + c]);
      loss += max - z[o + y[r]];
      let sum = 0;
      for (let c = 0; c < k; c++) sum += z[o + c] = Math.exp(z[o + c] - max);
      loss += Math.log(sum);
      for (let c = 0; c < k; c++) z[o + c] /= sum;
      z[o + y[r]] -= 1;
    }
    grad.fill(0);
    addScoreGradient(x, z, k, grad);
    return finishL2Objective(loss, w, grad, dk, C, n);
  };
  return solve(objective);
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

  /** Weights [cols, k] plus k intercepts (k = 1 for two classes), as coef_ + intercept_. */
  parameterCount(): number {
    return this.w.length + this.b.length;
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
    const { params: fitted, iterations, evaluations, reason } = fitWeights(train, C, k);
    const dk = train.x.cols * k;
    // Softmax ignores a common shift of the intercepts; centring them makes the fit canonical.
    let mean = 0;
    if (k > 1) for (let c = 0; c < k; c++) mean += fitted[dk + c] / k;
    // Rounded to float32 so predictProba and the ONNX graph use the very same parameters.
    const w = Float64Array.from(fitted.subarray(0, dk), Math.fround);
    const b = Float64Array.from(fitted.subarray(dk), (v) => Math.fround(v - mean));
    context.onProgress?.(`lr C=${C}: ${iterations} L-BFGS iterations, ${evaluations} evaluations (${reason})`);
    return new LogisticRegressionModel({ ...params, C }, train.nClasses, train.x.cols, k, w, b);
  },
};
