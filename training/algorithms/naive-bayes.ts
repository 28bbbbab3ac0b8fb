/**
 * One naive Bayes model over mixed columns: Gaussian likelihoods for numeric columns (as
 * scikit-learn's GaussianNB), a categorical likelihood per one-hot block (as CategoricalNB,
 * except that an all-zero block, an unseen category, contributes nothing) and a multinomial
 * likelihood per text feature's TF-IDF block (as MultinomialNB). Every discrete part is
 * linear in the encoded row, so the joint log likelihood is
 *   c + x @ B + sum over numeric j of h[j] * (x_j - mu[j])^2
 * and the ONNX head is a MatMul, a small broadcast for the numeric columns, and a Softmax.
 */
import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { positiveParam } from './logistic-regression';
import type { EncodedColumn, FittedModel, Params, Trainer, TrainingSet } from './types';

interface Layout {
  /** Encoded column index of each numeric column. */
  numeric: number[];
  /** Column -> position in `numeric`, or -1. */
  numericPos: Int32Array;
  /** Column groups that each form one discrete distribution, with their kind. */
  blocks: { kind: 'onehot' | 'text'; cols: number[] }[];
}

function layoutOf(columns: readonly EncodedColumn[], cols: number): Layout {
  if (columns.length !== cols)
    throw new Error(`naive Bayes: ${columns.length} column descriptions for ${cols} columns`);
  const numeric: number[] = [];
  const numericPos = new Int32Array(cols).fill(-1);
  const byFeature = new Map<string, { kind: 'onehot' | 'text'; cols: number[] }>();
  columns.forEach((column, j) => {
    if (column.kind === 'numeric') {
      numericPos[j] = numeric.length;
      numeric.push(j);
      return;
    }
    const key = `${column.kind}\u0000${column.feature}`;
    const block = byFeature.get(key) ?? { kind: column.kind, cols: [] };
    block.cols.push(j);
    byFeature.set(key, block);
  });
  return { numeric, numericPos, blocks: [...byFeature.values()] };
}

class NaiveBayesModel implements FittedModel {
  readonly algorithm = 'nb' as const;

  /**
   * @param numeric encoded indices of the numeric columns
   * @param mu      [numeric.length, nClasses] class means
   * @param h       [numeric.length, nClasses] -1 / (2 variance)
   * @param logB    [cols, nClasses] per-unit log likelihood of each discrete column (0 for numeric)
   * @param bias    [nClasses] log prior plus the Gaussian normalisers
   */
  constructor(
    readonly params: Params,
    readonly nClasses: number,
    private readonly cols: number,
    private readonly numeric: number[],
    private readonly numericPos: Int32Array,
    private readonly mu: Float64Array,
    private readonly h: Float64Array,
    private readonly logB: Float64Array,
    private readonly bias: Float64Array,
  ) {}

  predictProba(x: CsrMatrix): Float64Array {
    const k = this.nClasses;
    const p = new Float64Array(x.rows * k);
    const jll = new Float64Array(k);
    const xn = new Float64Array(this.numeric.length);
    for (let r = 0; r < x.rows; r++) {
      jll.set(this.bias);
      xn.fill(0);
      for (let q = x.rowPtr[r]; q < x.rowPtr[r + 1]; q++) {
        const j = x.colIdx[q];
        const v = x.values[q];
        if (this.numericPos[j] >= 0) xn[this.numericPos[j]] = v;
        else for (let c = 0; c < k; c++) jll[c] += v * this.logB[j * k + c];
      }
      for (let i = 0; i < xn.length; i++) {
        for (let c = 0; c < k; c++) {
          const d = xn[i] - this.mu[i * k + c];
          jll[c] += this.h[i * k + c] * d * d;
        }
      }
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, jll[c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += p[r * k + c] = Math.exp(jll[c] - max);
      for (let c = 0; c < k; c++) p[r * k + c] /= sum;
    }
    return p;
  }

  /**
   * Per class: a mean and a variance per numeric column, a log likelihood per discrete (one-hot
   * or TF-IDF) column, and the prior: GaussianNB's theta_ + var_ + class_prior_, CategoricalNB's
   * and MultinomialNB's feature_log_prob_ + class_log_prior_.
   */
  parameterCount(): number {
    const numeric = this.numeric.length;
    return this.nClasses * (2 * numeric + (this.cols - numeric) + 1);
  }

  toOnnx(graph: GraphBuilder, features: string): string {
    const k = this.nClasses;
    const product = graph.op('MatMul', [features, graph.floats('nb_log_b', this.logB, [this.cols, k])]);
    let jll = graph.op('Add', [product, graph.floats('nb_bias', this.bias, [k])]);
    const dn = this.numeric.length;
    if (dn > 0) {
      // Kept as h * (x - mu)^2 rather than expanded into x^2 and x terms: with a small class
      // variance the expanded terms are huge and cancel, which float32 cannot do accurately.
      const xn = graph.op('Gather', [features, graph.int64s('nb_numeric_cols', this.numeric, [dn])], { axis: 1 });
      const column = graph.op('Unsqueeze', [xn, graph.int64s('nb_axis2', [2], [1])]);
      const diff = graph.op('Sub', [column, graph.floats('nb_mu', this.mu, [dn, k])]);
      const weighted = graph.op('Mul', [graph.op('Mul', [diff, diff]), graph.floats('nb_h', this.h, [dn, k])]);
      const gauss = graph.op('ReduceSum', [weighted, graph.int64s('nb_axis1', [1], [1])], { keepdims: 0 });
      jll = graph.op('Add', [jll, gauss]);
    }
    return graph.op('Softmax', [jll], { axis: 1 });
  }
}

/** Subtracts each row's mean: softmax ignores a shift shared by all classes, float32 likes small numbers. */
function centreRows(m: Float64Array, k: number): void {
  for (let o = 0; o < m.length; o += k) {
    let mean = 0;
    for (let c = 0; c < k; c++) mean += m[o + c] / k;
    for (let c = 0; c < k; c++) m[o + c] = Math.fround(m[o + c] - mean);
  }
}

function fitNaiveBayes(train: TrainingSet, layout: Layout, alpha: number, varSmoothing: number): Float64Array[] {
  const { x, y, nClasses: k } = train;
  const n = x.rows;
  const dn = layout.numeric.length;
  const count = new Float64Array(k);
  for (let r = 0; r < n; r++) count[y[r]]++;

  // Numeric columns densified (they are few) for two-pass means and variances.
  const xn = new Float64Array(n * dn);
  const sums = new Float64Array(x.cols * k);
  for (let r = 0; r < n; r++) {
    for (let q = x.rowPtr[r]; q < x.rowPtr[r + 1]; q++) {
      const pos = layout.numericPos[x.colIdx[q]];
      if (pos >= 0) xn[r * dn + pos] = x.values[q];
      else sums[x.colIdx[q] * k + y[r]] += x.values[q];
    }
  }
  const mu = new Float64Array(dn * k);
  const variance = new Float64Array(dn * k);
  const all = new Float64Array(dn);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < dn; i++) {
      mu[i * k + y[r]] += xn[r * dn + i] / count[y[r]];
      all[i] += xn[r * dn + i] / n;
    }
  }
  let maxVariance = 0;
  for (let i = 0; i < dn; i++) {
    let v = 0;
    for (let r = 0; r < n; r++) v += (xn[r * dn + i] - all[i]) ** 2 / n;
    maxVariance = Math.max(maxVariance, v);
  }
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < dn; i++) variance[i * k + y[r]] += (xn[r * dn + i] - mu[i * k + y[r]]) ** 2 / count[y[r]];
  }
  // As GaussianNB: smoothing relative to the widest column keeps constant columns finite.
  const epsilon = varSmoothing * Math.max(maxVariance, Number.MIN_VALUE);
  const h = new Float64Array(dn * k);
  const bias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    // A class absent from the training rows stays possible but very unlikely, instead of NaN.
    bias[c] = Math.log(Math.max(count[c], 1e-3) / n);
    for (let i = 0; i < dn; i++) {
      const v = (count[c] > 0 ? variance[i * k + c] : maxVariance) + epsilon;
      h[i * k + c] = Math.fround(-0.5 / v);
      mu[i * k + c] = Math.fround(mu[i * k + c]);
      bias[c] -= 0.5 * Math.log(2 * Math.PI * v);
    }
  }

  const logB = new Float64Array(x.cols * k);
  for (const block of layout.blocks) {
    for (let c = 0; c < k; c++) {
      // One-hot: the class's rows; text: the class's total TF-IDF mass in this block.
      let total = block.kind === 'onehot' ? count[c] : 0;
      if (block.kind === 'text') for (const j of block.cols) total += sums[j * k + c];
      const denominator = Math.log(total + alpha * block.cols.length);
      for (const j of block.cols) logB[j * k + c] = Math.log(sums[j * k + c] + alpha) - denominator;
    }
  }
  centreRows(logB, k);
  centreRows(bias, k);
  return [mu, h, logB, bias];
}

export const naiveBayesTrainer: Trainer = {
  algorithm: 'nb',
  supportsText: true,
  grid: () => [
    { alpha: 1, varSmoothing: 1e-9 },
    { alpha: 0.1, varSmoothing: 1e-9 },
    { alpha: 0.5, varSmoothing: 1e-9 },
    { alpha: 1, varSmoothing: 1e-6 },
  ],
  fit(train, params, context) {
    const alpha = positiveParam(params, 'alpha', 1);
    const varSmoothing = positiveParam(params, 'varSmoothing', 1e-9);
    const layout = layoutOf(context.columns, train.x.cols);
    const [mu, h, logB, bias] = fitNaiveBayes(train, layout, alpha, varSmoothing);
    context.onProgress?.(`nb: ${layout.numeric.length} Gaussian columns, ${layout.blocks.length} discrete blocks`);
    return new NaiveBayesModel(
      { ...params, alpha, varSmoothing },
      train.nClasses,
      train.x.cols,
      layout.numeric,
      layout.numericPos,
      mu,
      h,
      logB,
      bias,
    );
  },
};
