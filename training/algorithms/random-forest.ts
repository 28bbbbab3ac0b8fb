import { type CsrMatrix, toFloat32 } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { Rng } from '../rng';
import { type BinnedColumns, binColumns, MAX_BINS, partitionRows } from './histogram';
import { emitTreeEnsemble, leafOf, nodeCount, type Tree, TreeBuilder } from './tree';
import type { FitContext, FittedModel, ParamValue, Params, Trainer, TrainingSet } from './types';

/** scikit-learn RandomForestClassifier's defaults (max_depth None = unlimited). */
const DEFAULTS: Params = { nTrees: 100, maxFeatures: 'sqrt', minSamplesLeaf: 1 };

interface Options {
  nTrees: number;
  maxFeatures: ParamValue;
  minSamplesLeaf: number;
  maxDepth: number;
}

function num(params: Params, key: string, fallback: number): number {
  const v = params[key];
  return typeof v === 'number' ? v : fallback;
}

function optionsOf(params: Params): Options {
  return {
    nTrees: num(params, 'nTrees', DEFAULTS.nTrees as number),
    maxFeatures: params.maxFeatures ?? DEFAULTS.maxFeatures,
    minSamplesLeaf: num(params, 'minSamplesLeaf', DEFAULTS.minSamplesLeaf as number),
    maxDepth: num(params, 'maxDepth', Infinity),
  };
}

/** Features tried per split, read as sklearn does: 'sqrt', 'log2', a fraction (<= 1) or a count. */
function featuresPerSplit(maxFeatures: ParamValue, cols: number): number {
  let k = cols;
  if (maxFeatures === 'sqrt') k = Math.floor(Math.sqrt(cols));
  else if (maxFeatures === 'log2') k = Math.floor(Math.log2(cols));
  else if (typeof maxFeatures === 'number') k = Math.floor(maxFeatures <= 1 ? maxFeatures * cols : maxFeatures);
  return Math.min(cols, Math.max(1, k));
}

/** Grows one fully-grown gini tree per call on a bootstrap sample; buffers are reused across trees. */
class ForestGrower {
  private readonly order: Int32Array;
  private readonly scratch: Int32Array;
  private readonly features: Int32Array;
  /** Per-bin class counts of one feature in one node: counts[bin * nClasses + class]. */
  private readonly counts: Int32Array;
  /** Rows per bin in the same histogram, so the scan skips empty bins cheaply. */
  private readonly binSizes: Int32Array;
  private readonly nodeCounts: Float64Array;
  private readonly leftCounts: Float64Array;
  private readonly mtry: number;

  constructor(
    private readonly binned: BinnedColumns,
    private readonly y: Int32Array,
    private readonly nClasses: number,
    private readonly o: Options,
  ) {
    this.order = new Int32Array(binned.rows);
    this.scratch = new Int32Array(binned.rows);
    this.features = new Int32Array(binned.cols);
    this.counts = new Int32Array(MAX_BINS * nClasses);
    this.binSizes = new Int32Array(MAX_BINS);
    this.nodeCounts = new Float64Array(nClasses);
    this.leftCounts = new Float64Array(nClasses);
    this.mtry = featuresPerSplit(o.maxFeatures, binned.cols);
  }

  grow(rng: Rng): Tree {
    const { order, y, nClasses: C, nodeCounts, o } = this;
    const n = this.binned.rows;
    for (let i = 0; i < n; i++) order[i] = rng.int(n);
    for (let f = 0; f < this.features.length; f++) this.features[f] = f;
    const builder = new TreeBuilder(C);
    // Depth-first: [id, start, end, depth] per pending node.
    const stack: number[] = [0, 0, n, 0];
    while (stack.length > 0) {
      const depth = stack.pop()!;
      const end = stack.pop()!;
      const start = stack.pop()!;
      const id = stack.pop()!;
      nodeCounts.fill(0);
      for (let i = start; i < end; i++) nodeCounts[y[order[i]]]++;
      const size = end - start;
      let pure = false;
      for (let c = 0; c < C; c++) if (nodeCounts[c] === size) pure = true;
      const split = pure || size < 2 * o.minSamplesLeaf || depth >= o.maxDepth ? null : this.bestSplit(rng, start, end);
      if (!split) {
        // Class shares pre-divided by the tree count, so the forest's average is a plain sum.
        for (let c = 0; c < C; c++) builder.setLeaf(id, c, nodeCounts[c] / size / o.nTrees);
        continue;
      }
      const left = builder.split(id, split.feature, this.binned.edges[split.feature][split.bin]);
      const mid = partitionRows(this.binned, order, this.scratch, start, end, split.feature, split.bin);
      stack.push(left + 1, mid, end, depth + 1, left, start, mid, depth + 1);
    }
    return builder.build();
  }

  /**
   * Best gini split over `mtry` randomly drawn features that are not constant in the node (as
   * sklearn counts them); any valid split is taken, even one that does not lower the impurity.
   */
  private bestSplit(rng: Rng, start: number, end: number): { feature: number; bin: number } | null {
    const { order, y, counts, binSizes, features, leftCounts, nodeCounts, nClasses: C } = this;
    const { rows, bins } = this.binned;
    const msl = this.o.minSamplesLeaf;
    const size = end - start;
    let bestScore = -Infinity;
    let best: { feature: number; bin: number } | null = null;
    let visited = 0;
    for (let j = 0; j < features.length && visited < this.mtry; j++) {
      const k = j + rng.int(features.length - j);
      const f = features[k];
      features[k] = features[j];
      features[j] = f;
      const base = f * rows;
      let lo = MAX_BINS;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const r = order[i];
        const b = bins[base + r];
        counts[b * C + y[r]]++;
        binSizes[b]++;
        if (b < lo) lo = b;
        if (b > hi) hi = b;
      }
      if (lo < hi) {
        visited++;
        leftCounts.fill(0);
        let nl = 0;
        for (let b = lo; b < hi; b++) {
          if (binSizes[b] === 0) continue;
          for (let c = 0; c < C; c++) leftCounts[c] += counts[b * C + c];
          nl += binSizes[b];
          if (nl < msl) continue;
          const nr = size - nl;
          if (nr < msl) break;
          // Maximising sum(left^2)/nl + sum(right^2)/nr minimises the children's weighted gini.
          let sl = 0;
          let sr = 0;
          for (let c = 0; c < C; c++) {
            sl += leftCounts[c] * leftCounts[c];
            const rc = nodeCounts[c] - leftCounts[c];
            sr += rc * rc;
          }
          const score = sl / nl + sr / nr;
          if (score > bestScore) {
            bestScore = score;
            best = { feature: f, bin: b };
          }
        }
      }
      counts.fill(0, lo * C, (hi + 1) * C);
      binSizes.fill(0, lo, hi + 1);
    }
    return best;
  }
}

export class RandomForestModel implements FittedModel {
  readonly algorithm = 'rf' as const;

  constructor(
    readonly params: Params,
    readonly nClasses: number,
    /** Leaves hold class share / tree count, so probabilities are the sum over trees. */
    readonly trees: readonly Tree[],
  ) {}

  predictProba(x: CsrMatrix): Float64Array {
    const C = this.nClasses;
    const dense = toFloat32(x);
    const out = new Float64Array(x.rows * C);
    for (const tree of this.trees) {
      for (let r = 0; r < x.rows; r++) {
        const leaf = leafOf(tree, dense, r * x.cols) * C;
        for (let c = 0; c < C; c++) out[r * C + c] += tree.value[leaf + c];
      }
    }
    return out;
  }

  /** Nodes (split + leaf) over all trees. */
  parameterCount(): number {
    return nodeCount(this.trees);
  }

  toOnnx(graph: GraphBuilder, features: string): string {
    const offsets = new Int32Array(this.trees.length);
    return emitTreeEnsemble(graph, features, this.trees, offsets, new Array<number>(this.nClasses).fill(0));
  }
}

function fit(train: TrainingSet, params: Params, context: FitContext): RandomForestModel {
  const o = optionsOf(params);
  if (train.x.rows === 0) throw new Error('rf needs training rows');
  if (!(o.nTrees >= 1)) throw new Error('rf needs nTrees >= 1');
  const grower = new ForestGrower(binColumns(train.x), train.y, train.nClasses, o);
  const rng = new Rng(context.seed);
  const trees: Tree[] = [];
  for (let t = 0; t < o.nTrees; t++) {
    trees.push(grower.grow(rng.fork()));
    if ((t + 1) % 25 === 0) context.onProgress?.(`rf: ${t + 1}/${o.nTrees} trees`);
  }
  const { maxDepth, ...rest } = o;
  const resolved: Params = Number.isFinite(maxDepth) ? { ...rest, maxDepth } : { ...rest };
  return new RandomForestModel(resolved, train.nClasses, trees);
}

export const randomForestTrainer: Trainer = {
  algorithm: 'rf',
  supportsText: false,
  grid: () => [{ ...DEFAULTS }, { ...DEFAULTS, minSamplesLeaf: 3 }, { ...DEFAULTS, maxFeatures: 0.5 }],
  fit,
};
