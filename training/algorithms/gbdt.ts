import { type CsrMatrix, toFloat32 } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { type BinnedColumns, binColumns, gradientHistogram, partitionRows } from './histogram';
import { emitTreeEnsemble, leafOf, type Tree, TreeBuilder } from './tree';
import type { FitContext, FittedModel, Params, Trainer, TrainingSet } from './types';

/** scikit-learn HistGradientBoostingClassifier's defaults (max_depth None = unlimited). */
const DEFAULTS = { learningRate: 0.1, maxIter: 100, maxLeafNodes: 31, minSamplesLeaf: 20, l2Regularization: 0 };
type Options = typeof DEFAULTS & { maxDepth: number };

/** sklearn's guards: a child needs this much hessian, and early stopping needs a gain over tol. */
const MIN_HESSIAN = 1e-3;
const PATIENCE = 10;
const TOL = 1e-7;
/** Gains this close to zero are rounding noise, not signal. */
const MIN_GAIN = 1e-12;

function num(params: Params, key: string, fallback: number): number {
  const v = params[key];
  return typeof v === 'number' ? v : fallback;
}

function optionsOf(params: Params): Options {
  const o: Options = { ...DEFAULTS, maxDepth: num(params, 'maxDepth', Infinity) };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) o[key] = num(params, key, DEFAULTS[key]);
  return o;
}

/** Splitting at `bin` of `feature` sends rows with these gradient/hessian sums left. */
type Split = { gain: number; feature: number; bin: number; gLeft: number; hLeft: number };

/** A leaf being grown: its rows are order[start, end); g/h are their gradient/hessian sums. */
type Leaf = { id: number; start: number; end: number; depth: number; g: number; h: number; hist: Float64Array | null; split: Split | null };

/** One constructor, so every Leaf has the same shape and hot loops stay monomorphic. */
function newLeaf(id: number, start: number, end: number, depth: number, g: number, h: number): Leaf {
  return { id, start, end, depth, g, h, hist: null, split: null };
}

/** Every row's raw scores set to the initial ones, [rows, init.length]. */
function startScores(rows: number, init: readonly number[]): Float64Array {
  const raw = new Float64Array(rows * init.length);
  for (let r = 0; r < rows; r++) raw.set(init, r * init.length);
  return raw;
}

/** Grows one tree leaf-wise (best gain first) on gradient/hessian histograms. */
class Grower {
  readonly order: Int32Array;
  private readonly scratch: Int32Array;
  private readonly pool: Float64Array[] = [];

  constructor(
    private readonly binned: BinnedColumns,
    private readonly o: Options,
  ) {
    this.order = new Int32Array(binned.rows);
    this.scratch = new Int32Array(binned.rows);
  }

  /** Grows on g/h[offset + row]; leaves' ranges index `this.order` until the next call. */
  grow(g: Float64Array, h: Float64Array, offset: number): { tree: Tree; leaves: Leaf[]; values: number[] } {
    const { o, order } = this;
    const n = this.binned.rows;
    for (let i = 0; i < n; i++) order[i] = i;
    const root = newLeaf(0, 0, n, 0, 0, 0);
    for (let i = 0; i < n; i++) {
      root.g += g[offset + i];
      root.h += h[offset + i];
    }
    const builder = new TreeBuilder(1);
    const done: Leaf[] = [];
    const open: Leaf[] = [];
    if (this.splittable(root)) {
      root.hist = this.build(g, h, offset, root);
      this.settle(root, open, done);
    } else done.push(root);
    let nLeaves = 1;
    while (open.length > 0 && nLeaves < o.maxLeafNodes) {
      let best = 0;
      for (let i = 1; i < open.length; i++) if (open[i].split!.gain > open[best].split!.gain) best = i;
      const node = open.splice(best, 1)[0];
      const s = node.split!;
      const mid = partitionRows(this.binned, order, this.scratch, node.start, node.end, s.feature, s.bin);
      const id = builder.split(node.id, s.feature, this.binned.edges[s.feature][s.bin]);
      nLeaves++;
      const depth = node.depth + 1;
      const left = newLeaf(id, node.start, mid, depth, s.gLeft, s.hLeft);
      const right = newLeaf(id + 1, mid, node.end, depth, node.g - s.gLeft, node.h - s.hLeft);
      const grows = nLeaves < o.maxLeafNodes && (this.splittable(left) || this.splittable(right));
      if (grows) {
        // Sibling subtraction: only the smaller child is histogrammed from its rows.
        const [small, large] = mid - node.start <= node.end - mid ? [left, right] : [right, left];
        const smallHist = this.build(g, h, offset, small);
        const parent = node.hist!;
        small.hist = smallHist;
        for (let i = 0; i < parent.length; i++) parent[i] -= smallHist[i];
        large.hist = parent;
      } else this.pool.push(node.hist!);
      for (const child of [left, right]) {
        if (grows && this.splittable(child)) this.settle(child, open, done);
        else {
          if (child.hist) this.pool.push(child.hist);
          done.push(child);
        }
      }
    }
    for (const leaf of open) this.pool.push(leaf.hist!);
    done.push(...open);
    const values = done.map((leaf) => builder.setLeaf(leaf.id, 0, this.leafValue(leaf)));
    return { tree: builder.build(), leaves: done, values };
  }

  private leafValue(leaf: Leaf): number {
    const denominator = leaf.h + this.o.l2Regularization;
    return denominator > 0 ? (-this.o.learningRate * leaf.g) / denominator : 0;
  }

  private splittable(leaf: Leaf): boolean {
    return leaf.end - leaf.start >= 2 * this.o.minSamplesLeaf && leaf.h >= 2 * MIN_HESSIAN && leaf.depth < this.o.maxDepth;
  }

  /** Finds the leaf's best split; it waits in `open` if there is one, else it is final. */
  private settle(leaf: Leaf, open: Leaf[], done: Leaf[]): void {
    leaf.split = this.bestSplit(leaf);
    if (leaf.split) open.push(leaf);
    else {
      this.pool.push(leaf.hist!);
      leaf.hist = null;
      done.push(leaf);
    }
  }

  private build(g: Float64Array, h: Float64Array, offset: number, leaf: Leaf): Float64Array {
    const hist = this.pool.pop() ?? new Float64Array(this.binned.offsets[this.binned.cols] * 3);
    const totals = { g: leaf.g, h: leaf.h };
    gradientHistogram(this.binned, this.order, leaf.start, leaf.end, g, h, offset, totals, hist);
    return hist;
  }

  private bestSplit(leaf: Leaf): Split | null {
    const { edges, cols, offsets } = this.binned;
    const { minSamplesLeaf, l2Regularization: l2 } = this.o;
    const hist = leaf.hist!;
    const n = leaf.end - leaf.start;
    const { g: sumG, h: sumH } = leaf;
    const parent = (sumG * sumG) / (sumH + l2);
    let best: Split | null = null;
    let bestGain = MIN_GAIN;
    for (let f = 0; f < cols; f++) {
      const lastBin = edges[f].length;
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let b = 0, j = offsets[f] * 3; b < lastBin; b++, j += 3) {
        gl += hist[j];
        hl += hist[j + 1];
        nl += hist[j + 2];
        if (nl < minSamplesLeaf || hl < MIN_HESSIAN) continue;
        const hr = sumH - hl;
        if (n - nl < minSamplesLeaf || hr < MIN_HESSIAN) break;
        const gr = sumG - gl;
        const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parent;
        if (gain > bestGain) {
          bestGain = gain;
          best = { gain, feature: f, bin: b, gLeft: gl, hLeft: hl };
        }
      }
    }
    return best;
  }
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
  const p = new Float64Array(nClasses);
  let total = 0;
  for (let r = 0; r < y.length; r++) total += softmaxRow(raw, r, nClasses, p, y[r]);
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
    const dense = toFloat32(x);
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
  const g = new Float64Array(n * width);
  const h = new Float64Array(n * width);
  const grower = new Grower(binColumns(train.x), o);

  const validation = context.validation;
  const xv = validation ? toFloat32(validation.x) : new Float32Array(0);
  const nv = validation ? validation.x.rows : 0;
  const rawV = startScores(nv, init);
  const losses = validation ? [logLoss(rawV, validation.y, nClasses)] : [];

  const trees: Tree[] = [];
  const treeClass: number[] = [];
  let iterations = 0;
  while (iterations < o.maxIter) {
    gradients(raw, y, nClasses, g, h);
    for (let k = 0; k < width; k++) {
      const { tree, leaves, values } = grower.grow(g, h, k * n);
      trees.push(tree);
      treeClass.push(k);
      leaves.forEach((leaf, i) => {
        for (let j = leaf.start; j < leaf.end; j++) raw[grower.order[j] * width + k] += values[i];
      });
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
