/**
 * Linear SVM like scikit-learn's LinearSVC (squared hinge loss, L2, one-vs-rest), except that
 * the intercept is not penalised. The squared hinge is differentiable, so L-BFGS solves the
 * primal directly; Platt scaling turns the margins into probabilities.
 */
import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { type MinimizeResult, minimize } from './lbfgs';
import {
  addScoreGradient,
  finishL2Objective,
  linearScores,
  l2SolverOptions,
  linearScoresOnnx,
  positiveParam,
  softplus,
} from './logistic-regression';
import type { FittedModel, Params, Trainer } from './types';

/**
 * Weights (cols entries, then the intercept) minimising
 * sum max(0, 1 - s * (x.w + b))^2 / n + ||w||^2 / (2 C n) with s = +1 where positive[r].
 */
function fitBinary(x: CsrMatrix, positive: (r: number) => boolean, C: number): MinimizeResult {
  const n = x.rows;
  const d = x.cols;
  const sign = Float64Array.from({ length: n }, (_, r) => (positive(r) ? 1 : -1));
  const z = new Float64Array(n);
  const objective = (w: Float64Array, grad: Float64Array): number => {
    linearScores(x, w, w.subarray(d), 1, z);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      const margin = Math.max(0, 1 - sign[r] * z[r]);
      loss += margin * margin;
      z[r] = -2 * sign[r] * margin; // d loss / d score
    }
    grad.fill(0);
    addScoreGradient(x, z, 1, grad);
    return finishL2Objective(loss, w, grad, d, C, n);
  };
  return minimize(objective, new Float64Array(d + 1), l2SolverOptions(C, n));
}

/**
 * Platt's sigmoid p = sigmoid(A f + B) fitted to decision values `f`, with the smoothed targets
 * of Lin, Lin & Weng (2007) so that separable training data cannot drive A to infinity.
 */
function plattScale(f: ArrayLike<number>, positive: (r: number) => boolean): { a: number; b: number } {
  const n = f.length;
  let nPos = 0;
  for (let r = 0; r < n; r++) if (positive(r)) nPos++;
  const hi = (nPos + 1) / (nPos + 2);
  const lo = 1 / (n - nPos + 2);
  const t = Float64Array.from({ length: n }, (_, r) => (positive(r) ? hi : lo));
  const objective = (ab: Float64Array, grad: Float64Array): number => {
    let loss = 0;
    grad.fill(0);
    for (let r = 0; r < n; r++) {
      const z = ab[0] * f[r] + ab[1];
      // Cross-entropy of targets t against sigmoid(z): softplus(z) - t z.
      loss += softplus(z) - t[r] * z;
      const dz = 1 / (1 + Math.exp(-z)) - t[r];
      grad[0] += dz * f[r];
      grad[1] += dz;
    }
    grad[0] /= n;
    grad[1] /= n;
    return loss / n;
  };
  const start = Float64Array.from([0, Math.log((nPos + 1) / (n - nPos + 1))]);
  const result = minimize(objective, start, { gradTol: 1e-10, relTol: 64 * Number.EPSILON, maxIterations: 200 });
  return { a: result.w[0], b: result.w[1] };
}

class LinearSvmModel implements FittedModel {
  readonly algorithm = 'svm' as const;

  /** w/b already include Platt's A and B, so z = x.w + b is the sigmoid's argument per score. */
  constructor(
    readonly params: Params,
    readonly nClasses: number,
    private readonly cols: number,
    private readonly k: number,
    private readonly w: Float64Array,
    private readonly b: Float64Array,
  ) {}

  predictProba(x: CsrMatrix): Float64Array {
    const z = linearScores(x, this.w, this.b, this.k);
    const out = this.k === 1 ? 2 : this.k;
    const p = new Float64Array(x.rows * out);
    for (let r = 0; r < x.rows; r++) {
      if (this.k === 1) {
        const q = 1 / (1 + Math.exp(-z[r]));
        p[2 * r] = 1 - q;
        p[2 * r + 1] = q;
        continue;
      }
      // sigmoid(z_c) / sum_j sigmoid(z_j) as a softmax of log-sigmoids, as the ONNX head does:
      // it stays exact when every sigmoid underflows.
      const o = r * out;
      let max = -Infinity;
      for (let c = 0; c < out; c++) {
        z[o + c] = -softplus(-z[o + c]);
        max = Math.max(max, z[o + c]);
      }
      let sum = 0;
      for (let c = 0; c < out; c++) sum += p[o + c] = Math.exp(z[o + c] - max);
      for (let c = 0; c < out; c++) p[o + c] /= sum;
    }
    return p;
  }

  /** Weights [cols, k] plus k intercepts (Platt's A and B are folded into them). */
  parameterCount(): number {
    return this.w.length + this.b.length;
  }

  toOnnx(graph: GraphBuilder, features: string): string {
    const scores = linearScoresOnnx(graph, features, 'svm', this.w, this.b, this.cols, this.k);
    if (this.k === 1) return graph.op('Softmax', [scores], { axis: 1 });
    // Not Sigmoid + ReduceSum + Div: onnxruntime's Sigmoid is accurate only in absolute terms
    // (~6e-8; measured: 17% off at z = -15, exactly 0 from z = -18), and dividing by the row sum
    // turns that into a large relative error, or 0/0, for a row that every class rejects.
    // Softmax of log-sigmoids is the same normalisation, and Softplus is accurate there.
    const logSigmoid = graph.op('Neg', [graph.op('Softplus', [graph.op('Neg', [scores])])]);
    return graph.op('Softmax', [logSigmoid], { axis: 1 });
  }
}

export const linearSvmTrainer: Trainer = {
  algorithm: 'svm',
  supportsText: true,
  grid: () => [{ C: 1 }, { C: 0.1 }, { C: 0.01 }, { C: 10 }],
  fit(train, params, context) {
    const C = positiveParam(params, 'C', 1);
    if (train.nClasses < 2) throw new Error('a linear SVM needs at least two classes');
    const { x, y } = train;
    const k = train.nClasses === 2 ? 1 : train.nClasses;
    const d = x.cols;
    const w = new Float64Array(d * k);
    const b = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      // Binary problems have one score, for class 1; otherwise one-vs-rest per class.
      const target = k === 1 ? 1 : c;
      const positive = (r: number): boolean => y[r] === target;
      const { w: wc, iterations, reason } = fitBinary(x, positive, C);
      const f = linearScores(x, wc, wc.subarray(d), 1);
      const { a, b: shift } = plattScale(f, positive);
      const platt = `Platt A=${a.toFixed(3)} B=${shift.toFixed(3)}`;
      context.onProgress?.(`svm C=${C} class ${target}: ${iterations} L-BFGS iterations (${reason}), ${platt}`);
      // Folding A and B into the weights leaves a plain linear score per class; float32
      // rounding here means predictProba and the ONNX graph share the exact parameters.
      for (let j = 0; j < d; j++) w[j * k + c] = Math.fround(a * wc[j]);
      b[c] = Math.fround(a * wc[d] + shift);
    }
    return new LinearSvmModel({ ...params, C }, train.nClasses, d, k, w, b);
  },
};
