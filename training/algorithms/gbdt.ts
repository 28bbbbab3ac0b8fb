import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { binnedOf, denseOf } from './shared-views';
import { Grower } from './gbdt-grower';
import { emitTreeEnsemble, leafOf, nodeCount, type Tree } from './tree';
import type { FitContext, FittedModel, Params, Trainer, TrainingSet } from './types';

/** scikit-learn HistGradientBoostingClassifier's defaults (max_depth None = unlimited). */
const DEFAULTS = { learningRate: 0.1, maxIter: 100, maxLeafNodes: 31, minSamplesLeaf: 20, l2Regularization: 0 };
type Options = typeof DEFAULTS & { maxDepth: number };

/** sklearn's early stopping: a gain over TOL within the last PATIENCE iterations. */
const PATIENCE = 10;
const TOL = 1e-7;

function num(params: Params, key: string, fallback: number): number {
  const v = params[key];
  return typeof v === 'number' ? v : fallback;
}

function optionsOf(params: Params): Options {
  const o: Options = { ...DEFAULTS, maxDepth: num(params, 'maxDepth', Infinity) };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) o[key] = num(params, key, DEFAULTS[key]);
  return o;
}

/** Every row's raw scores set to the initial ones, [rows, init.length]. */
function startScores(rows: number, init: readonly number[]): Float64Array {
  const raw = new Float64Array(rows * init.length);
  for (let r = 0; r < rows; r++) raw.set(init, r * init.length);
  return raw;
}

/**
 * Row r's class probabilities into p[0, nClasses): the softmax of its raw scores, where a binary
 * model's single logit s stands for scores [0, s] (as in the exported graph). Returns the row's
 * log loss for `label`, computed from the scores so it stays finite for confident rows.
 */
function softmaxRow(raw: Float64Array, r: number, nClasses: number, p: Float64Array, label: number): number {
  const binary = nClasses === 2;
  let max = -Infinity;
  for (let k = 0; k < nClasses; k++) {
    p[k] = binary ? (k === 0 ? 0 : raw[r]) : raw[r * nClasses + k];
    max = Math.max(max, p[k]);
  }
  const scoreOfLabel = p[label];
  let sum = 0;
  for (let k = 0; k < nClasses; k++) sum += p[k] = Math.exp(p[k] - max);
  for (let k = 0; k < nClasses; k++) p[k] /= sum;
  return max + Math.log(sum) - scoreOfLabel;
}

function logLoss(raw: Float64Array, y: Int32Array, nClasses: number): number {
  let total = 0;
  if (nClasses === 2) {
    // softmaxRow's value for scores [0, s], in one exp: log(1 + e^s) - y s, kept stable for large |s|.
    for (let r = 0; r < y.length; r++) {
      const s = raw[r];
      total += Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - (y[r] === 1 ? s : 0);
    }
  } else {
    const p = new Float64Array(nClasses);
    for (let r = 0; r < y.length; r++) total += softmaxRow(raw, r, nClasses, p, y[r]);
  }
  return total / Math.max(1, y.length);
}

export class GbdtModel implements FittedModel {
  readonly algorithm = 'gbdt' as const;

  constructor(
    readonly params: Params,
    readonly nClasses: number,
    /** Initial raw scores: one logit (binary) or one per class. */
    readonly init: readonly number[],
    readonly trees: readonly Tree[],
    /** Which raw score each tree adds to. */
    readonly treeClass: Int32Array,
    /** Boosting iterations kept (fewer than maxIter after early stopping). */
    readonly iterations: number,
  ) {}

  /** Raw scores, [rows, width]: the sum the exported graph computes before its softmax. */
  rawScores(x: CsrMatrix): Float64Array {
    const width = this.init.length;
    const dense = denseOf(x);
    const raw = startScores(x.rows, this.init);
    this.trees.forEach((tree, t) => {
      const k = this.treeClass[t];
      for (let r = 0; r < x.rows; r++) raw[r * width + k] += tree.value[leafOf(tree, dense, r * x.cols)];
    });
    return raw;
  }

  predictProba(x: CsrMatrix): Float64Array {
    const C = this.nClasses;
    const raw = this.rawScores(x);
    const out = new Float64Array(x.rows * C);
    for (let r = 0; r < x.rows; r++) softmaxRow(raw, r, C, out.subarray(r * C, (r + 1) * C), 0);
    return out;
  }

  /** Nodes (split + leaf) over all trees. */
  parameterCount(): number {
    return nodeCount(this.trees);
  }

  toOnnx(graph: GraphBuilder, features: string): string {
    // Binary: scores [0, s] so Softmax gives [1 - sigmoid(s), sigmoid(s)] with no label quirks.
    const binary = this.nClasses === 2;
    const offsets = binary ? this.treeClass.map(() => 1) : this.treeClass;
    const base = binary ? [0, this.init[0]] : [...this.init];
    const scores = emitTreeEnsemble(graph, features, this.trees, offsets, base);
    return graph.op('Softmax', [scores], { axis: 1 });
  }
}

/** Start from the class priors: the log-odds (binary) or log-probabilities (multiclass). */
function initialScores(y: Int32Array, nClasses: number): number[] {
  const counts = new Float64Array(nClasses);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  const prior = Array.from(counts, (c) => Math.min(1 - 1e-15, Math.max(1e-15, c / Math.max(1, y.length))));
  const scores = nClasses === 2 ? [Math.log(prior[1] / prior[0])] : prior.map(Math.log);
  return scores.map(Math.fround);
}

/** Gradients/hessians of the loss at `raw`, laid out [k * rows + row] so each tree reads one block. */
function gradients(raw: Float64Array, y: Int32Array, nClasses: number, g: Float64Array, h: Float64Array): void {
  const n = y.length;
  const p = new Float64Array(nClasses);
  for (let r = 0; r < n; r++) {
    if (nClasses === 2) {
      // The hot case, without softmaxRow's loss term.
      const p1 = 1 / (1 + Math.exp(-raw[r]));
      g[r] = p1 - y[r];
      h[r] = p1 * (1 - p1);
      continue;
    }
    softmaxRow(raw, r, nClasses, p, 0);
    for (let k = 0; k < nClasses; k++) {
      const i = k * n + r;
      g[i] = p[k] - (y[r] === k ? 1 : 0);
      h[i] = p[k] * (1 - p[k]);
    }
  }
}

/** sklearn's rule: stop when none of the last PATIENCE scores beat the one before them by TOL. */
function shouldStop(losses: number[]): boolean {
  if (losses.length <= PATIENCE) return false;
  const reference = losses[losses.length - PATIENCE - 1] - TOL;
  return losses.slice(-PATIENCE).every((loss) => loss >= reference);
}

function fit(train: TrainingSet, params: Params, context: FitContext): GbdtModel {
  const o = optionsOf(params);
  const { nClasses, y } = train;
  if (nClasses < 2) throw new Error('gbdt needs at least two classes');
  if (!(o.maxIter >= 1)) throw new Error('gbdt needs maxIter >= 1');
  const n = train.x.rows;
  const width = nClasses === 2 ? 1 : nClasses;
  const init = initialScores(y, nClasses);
  const raw = startScores(n, init);
  const grower = new Grower(binnedOf(train.x), o, width);

  const validation = context.validation;
  const xv = validation ? denseOf(validation.x) : new Float32Array(0);
  const nv = validation ? validation.x.rows : 0;
  const rawV = startScores(nv, init);
  const losses = validation ? [logLoss(rawV, validation.y, nClasses)] : [];

  const trees: Tree[] = [];
  const treeClass: number[] = [];
  let iterations = 0;
  while (iterations < o.maxIter) {
    gradients(raw, y, nClasses, grower.g, grower.h);
    for (let k = 0; k < width; k++) {
      const { tree, leaves, values } = grower.grow(k * n);
      trees.push(tree);
      treeClass.push(k);
      const order = grower.order;
      for (let i = 0; i < leaves.length; i++) {
        const { start, end } = leaves[i];
        const value = values[i];
        for (let j = start; j < end; j++) raw[order[j] * width + k] += value;
      }
      for (let r = 0; r < nv; r++) rawV[r * width + k] += tree.value[leafOf(tree, xv, r * train.x.cols)];
    }
    iterations++;
    if (validation) {
      losses.push(logLoss(rawV, validation.y, nClasses));
      if (shouldStop(losses)) break;
    }
    if (iterations % 10 === 0) context.onProgress?.(`gbdt: ${iterations}/${o.maxIter} iterations`);
  }
  const { maxDepth, ...rest } = o;
  const resolved: Params = Number.isFinite(maxDepth) ? { ...rest, maxDepth } : { ...rest };
  return new GbdtModel(resolved, nClasses, init, trees, Int32Array.from(treeClass), iterations);
}

export const gbdtTrainer: Trainer = {
  algorithm: 'gbdt',
  supportsText: false,
  grid: () => [
    { ...DEFAULTS },
    { ...DEFAULTS, learningRate: 0.05, maxIter: 200 },
    { ...DEFAULTS, maxLeafNodes: 15, l2Regularization: 1 },
  ],
  fit,
};
