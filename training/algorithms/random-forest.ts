import { type CsrMatrix, toFloat32 } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';
import { Rng } from '../rng';
import { type BinnedColumns, binColumns, MAX_BINS } from './histogram';
import { emitTreeEnsemble, leafOf, nodeCount, type Tree } from './tree';
import type { FitContext, FittedModel, ParamValue, Params, Trainer, TrainingSet } from './types';

/** scikit-learn RandomForestClassifier's defaults (max_depth None = unlimited). */
const DEFAULTS: Params = { nTrees: 100, maxFeatures: 'sqrt', minSamplesLeaf: 1 };

interface Options {
  nTrees: number;
  maxFeatures: ParamValue;
  minSamplesLeaf: number;
  maxDepth: number;
  /** Nodes one tree may have (set by the forest budget): a node that would pass it stays a leaf. */
  maxNodes: number;
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
    maxNodes: num(params, 'maxNodes', Infinity),
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

/** Bits in one word of the bin-presence mask. */
const WORD = 32;

/**
 * Grows one fully-grown gini tree per call on a bootstrap sample; buffers are reused across trees.
 *
 * A bootstrap sample is kept as its distinct rows, each weighted by how often it was drawn, in
 * ascending row order (the stable partition keeps every node's rows ascending, so reading a
 * column walks memory forwards). Every number the tree depends on (class counts per bin, node
 * sizes) is an integer sum over the node's rows, so this gives exactly the trees of growing on the
 * drawn rows one by one, in drawing order: test/unit/random-forest-grower.test.ts checks that.
 */
class ForestGrower {
  /** The node's distinct rows: order[start, end) for the node being split. */
  private readonly order: Int32Array;
  /**
   * Each of those rows' class and weight (times drawn), side by side with `order` and moved with
   * it, so a histogram reads them in sequence rather than at scattered row ids.
   */
  private readonly classOf: Int32Array;
  private readonly weightOf: Int32Array;
  private readonly scratch: Int32Array;
  private readonly scratchClass: Int32Array;
  private readonly scratchWeight: Int32Array;
  /** Times each row was drawn in the current bootstrap sample. */
  private readonly weight: Int32Array;
  private readonly features: Int32Array;
  /** Per-bin weighted class counts of one feature in one node: counts[bin * nClasses + class]. */
  private readonly counts: Int32Array;
  /**
   * The bins the node's rows fall in, ascending (present[0, nPresent)): the split scan visits only
   * those, not every bin between the lowest and the highest, which in the many small nodes of a
   * fully grown tree costs far more than the rows do. Found with a bitmask (one bit per bin) when
   * the bins' range is long next to the node's rows.
   */
  private readonly present: Int32Array;
  private readonly mask: Int32Array;
  private readonly leftCounts: Float64Array;
  private readonly bestLeft: Float64Array;
  /** Pending nodes, depth first: [id, start, end, depth] and their class counts. */
  private stack: Int32Array;
  private stackCounts: Float64Array;
  /**
   * Features found constant in a node are constant in all its descendants: known[f] marks them
   * for the node being split (and stackConstant for pending ones), so drawing one again skips its
   * histogram. The draw still happens, as sklearn's splitter also keeps them out of the count.
   */
  private readonly known: Uint8Array;
  private stackConstant: Uint8Array;
  private readonly mtry: number;
  /**
   * The node's bins of the feature being tried (column[start, end)), and of the best split's
   * feature so far: the two swap when a feature takes the lead.
   */
  private column: Uint8Array;
  private bestColumn: Uint8Array;
  /** The tree being grown, in flat arrays with room for every node it can have. */
  private readonly feature: Int32Array;
  private readonly threshold: Float32Array;
  private readonly left: Int32Array;
  private readonly value: Float32Array;

  constructor(
    private readonly binned: BinnedColumns,
    private readonly y: Int32Array,
    private readonly nClasses: number,
    private readonly o: Options,
  ) {
    const n = binned.rows;
    this.order = new Int32Array(n);
    this.classOf = new Int32Array(n);
    this.weightOf = new Int32Array(n);
    this.scratch = new Int32Array(n);
    this.scratchClass = new Int32Array(n);
    this.scratchWeight = new Int32Array(n);
    this.weight = new Int32Array(n);
    this.features = new Int32Array(binned.cols);
    this.counts = new Int32Array(MAX_BINS * nClasses);
    this.mask = new Int32Array(Math.ceil(MAX_BINS / WORD));
    this.present = new Int32Array(MAX_BINS);
    this.leftCounts = new Float64Array(nClasses);
    this.bestLeft = new Float64Array(nClasses);
    this.stack = new Int32Array(4 * 64);
    this.stackCounts = new Float64Array(nClasses * 64);
    this.known = new Uint8Array(binned.cols);
    this.stackConstant = new Uint8Array(binned.cols * 64);
    this.mtry = featuresPerSplit(o.maxFeatures, binned.cols);
    this.column = new Uint8Array(n);
    this.bestColumn = new Uint8Array(n);
    // A split leaves at least one distinct row on each side, so a tree has under 2n nodes.
    const nodes = 2 * n;
    this.feature = new Int32Array(nodes);
    this.threshold = new Float32Array(nodes);
    this.left = new Int32Array(nodes);
    this.value = new Float32Array(nodes * nClasses);
  }

  /**
   * One tree. The work is in small methods rather than one long loop: V8 compiles a long-running
   * loop on the stack (OSR) before the code after it has run, and such code kept being thrown away
   * (deoptimised) on every tree.
   */
  grow(rng: Rng): Tree {
    const distinct = this.bootstrap(rng);
    const nodeCounts = new Float64Array(this.nClasses);
    for (let i = 0; i < distinct; i++) nodeCounts[this.classOf[i]] += this.weightOf[i];
    this.nodes = 1;
    this.startNode(0);
    this.known.fill(0);
    let top = this.push(0, 0, 0, distinct, 0, nodeCounts);
    while (top > 0) top = this.growNode(rng, top - 1, nodeCounts);
    return this.tree();
  }

  /** Draws the bootstrap sample into order / classOf / weightOf; returns its distinct rows. */
  private bootstrap(rng: Rng): number {
    const { order, classOf, weightOf, weight, y } = this;
    const n = this.binned.rows;
    weight.fill(0);
    for (let i = 0; i < n; i++) weight[rng.int(n)]++;
    let distinct = 0;
    for (let r = 0; r < n; r++) {
      if (weight[r] === 0) continue;
      order[distinct] = r;
      classOf[distinct] = y[r];
      weightOf[distinct++] = weight[r];
    }
    for (let f = 0; f < this.features.length; f++) this.features[f] = f;
    return distinct;
  }

  /** Makes the pending node at stack[top] a leaf or a split; returns the new stack height. */
  private growNode(rng: Rng, top: number, nodeCounts: Float64Array): number {
    const { stack, stackCounts, stackConstant, known, nClasses: C, o } = this;
    const id = stack[4 * top];
    const start = stack[4 * top + 1];
    const end = stack[4 * top + 2];
    const depth = stack[4 * top + 3];
    let size = 0;
    let pure = false;
    for (let c = 0; c < C; c++) {
      nodeCounts[c] = stackCounts[top * C + c];
      size += nodeCounts[c];
    }
    for (let c = 0; c < C; c++) if (nodeCounts[c] === size) pure = true;
    const cols = known.length;
    for (let f = 0; f < cols; f++) known[f] = stackConstant[top * cols + f];
    const bin =
      pure || size < 2 * o.minSamplesLeaf || depth >= o.maxDepth || this.nodes + 2 > o.maxNodes
        ? -1
        : this.bestSplit(rng, start, end, size, nodeCounts);
    if (bin < 0) {
      // Class shares pre-divided by the tree count, so the forest's average is a plain sum.
      for (let c = 0; c < C; c++) this.value[id * C + c] = nodeCounts[c] / size / o.nTrees;
      return top;
    }
    const f = this.bestFeature;
    const left = this.nodes;
    this.nodes += 2;
    this.feature[id] = f;
    this.threshold[id] = this.binned.edges[f][bin];
    this.left[id] = left;
    this.startNode(left);
    this.startNode(left + 1);
    const mid = this.partition(start, end, bin);
    // Right child below the left one, so the left subtree is grown first (ids stay depth first).
    for (let c = 0; c < C; c++) nodeCounts[c] -= this.bestLeft[c];
    top = this.push(top, left + 1, mid, end, depth + 1, nodeCounts);
    return this.push(top, left, start, mid, depth + 1, this.bestLeft);
  }

  /** The grown tree, copied out of the reused buffers. */
  private tree(): Tree {
    const { nodes, nClasses: C } = this;
    const left = this.left.slice(0, nodes);
    const right = new Int32Array(nodes);
    for (let i = 0; i < nodes; i++) right[i] = left[i] < 0 ? -1 : left[i] + 1;
    return {
      feature: this.feature.slice(0, nodes),
      threshold: this.threshold.slice(0, nodes),
      left,
      right,
      value: this.value.slice(0, nodes * C),
      width: C,
    };
  }

  /** Nodes in the tree being grown. */
  private nodes = 0;
  private bestFeature = -1;

  private startNode(id: number): void {
    this.feature[id] = -1;
    this.threshold[id] = 0;
    this.left[id] = -1;
    for (let c = 0; c < this.nClasses; c++) this.value[id * this.nClasses + c] = 0;
  }

  /** Pushes a pending node; returns the new stack height. */
  private push(top: number, id: number, start: number, end: number, depth: number, counts: Float64Array): number {
    const C = this.nClasses;
    if (4 * (top + 1) > this.stack.length) {
      const stack = new Int32Array(this.stack.length * 2);
      stack.set(this.stack);
      this.stack = stack;
      const stackCounts = new Float64Array(this.stackCounts.length * 2);
      stackCounts.set(this.stackCounts);
      this.stackCounts = stackCounts;
      const stackConstant = new Uint8Array(this.stackConstant.length * 2);
      stackConstant.set(this.stackConstant);
      this.stackConstant = stackConstant;
    }
    this.stack[4 * top] = id;
    this.stack[4 * top + 1] = start;
    this.stack[4 * top + 2] = end;
    this.stack[4 * top + 3] = depth;
    for (let c = 0; c < C; c++) this.stackCounts[top * C + c] = counts[c];
    const cols = this.known.length;
    for (let f = 0; f < cols; f++) this.stackConstant[top * cols + f] = this.known[f];
    return top + 1;
  }

  /** Stable in-place partition of order[start, end): rows in bins <= `bin` of `feature` first; returns where the right part starts. */
  private partition(start: number, end: number, bin: number): number {
    const { order, classOf, weightOf, scratch, scratchClass, scratchWeight, bestColumn } = this;
    let left = start;
    let right = 0;
    for (let i = start; i < end; i++) {
      const row = order[i];
      if (bestColumn[i] <= bin) {
        order[left] = row;
        classOf[left] = classOf[i];
        weightOf[left++] = weightOf[i];
      } else {
        scratch[right] = row;
        scratchClass[right] = classOf[i];
        scratchWeight[right++] = weightOf[i];
      }
    }
    // Loops, not set(subarray()): a view per call costs more than the copy in small nodes.
    for (let i = 0; i < right; i++) {
      order[left + i] = scratch[i];
      classOf[left + i] = scratchClass[i];
      weightOf[left + i] = scratchWeight[i];
    }
    return left;
  }

  /**
   * Best gini split over `mtry` randomly drawn features that are not constant in the node (as
   * sklearn counts them); any valid split is taken, even one that does not lower the impurity.
   * Returns the split's bin (its feature in `bestFeature`, its left class counts in `bestLeft`),
   * or -1 when no feature has a valid split.
   */
  private bestSplit(rng: Rng, start: number, end: number, size: number, nodeCounts: Float64Array): number {
    const {
      known,
      order,
      classOf,
      weightOf,
      counts,
      mask,
      present,
      features,
      leftCounts,
      bestLeft,
      nClasses: C,
    } = this;
    const { rows, bins } = this.binned;
    const msl = this.o.minSamplesLeaf;
    let bestScore = -Infinity;
    let bestBin = -1;
    let visited = 0;
    for (let j = 0; j < features.length && visited < this.mtry; j++) {
      const k = j + rng.int(features.length - j);
      const f = features[k];
      features[k] = features[j];
      features[j] = f;
      if (known[f] === 1) continue;
      const base = f * rows;
      // The node's bins of this feature, gathered once: the partition reads them again if it wins.
      const column = this.column;
      let lo = MAX_BINS;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const b = bins[base + order[i]];
        column[i] = b;
        counts[b * C + classOf[i]] += weightOf[i];
        if (b < lo) lo = b;
        if (b > hi) hi = b;
      }
      if (lo === hi) {
        known[f] = 1;
        for (let c = 0; c < C; c++) counts[lo * C + c] = 0;
        continue;
      }
      // The bins present, ascending: off the histogram when its range is short next to the node,
      // else off a bitmask of the rows' bins (a fully grown tree's many small nodes).
      let nPresent = 0;
      if (hi - lo < 2 * (end - start)) {
        for (let b = lo; b <= hi; b++) {
          let any = 0;
          for (let c = 0; c < C; c++) any |= counts[b * C + c];
          if (any !== 0) present[nPresent++] = b;
        }
      } else {
        for (let i = start; i < end; i++) mask[column[i] >> 5] |= 1 << (column[i] & 31);
        for (let w = lo >> 5; w <= hi >> 5; w++) {
          let bits = mask[w];
          mask[w] = 0;
          while (bits !== 0) {
            const low = bits & -bits;
            present[nPresent++] = w * WORD + 31 - Math.clz32(low);
            bits ^= low;
          }
        }
      }
      visited++;
      let improved = false;
      if (C === 2) {
        // Two classes, the usual case: the same sums as the loop below, in the same order, with the
        // counts in locals.
        const n0 = nodeCounts[0];
        const n1 = nodeCounts[1];
        let l0 = 0;
        let l1 = 0;
        for (let p = 0; p < nPresent - 1; p++) {
          const b = present[p];
          l0 += counts[2 * b];
          l1 += counts[2 * b + 1];
          const nl = l0 + l1;
          if (nl < msl) continue;
          const nr = size - nl;
          if (nr < msl) break;
          const r0 = n0 - l0;
          const r1 = n1 - l1;
          const score = (l0 * l0 + l1 * l1) / nl + (r0 * r0 + r1 * r1) / nr;
          if (score > bestScore) {
            bestScore = score;
            bestBin = b;
            this.bestFeature = f;
            improved = true;
            bestLeft[0] = l0;
            bestLeft[1] = l1;
          }
        }
        for (let p = 0; p < nPresent; p++) {
          counts[2 * present[p]] = 0;
          counts[2 * present[p] + 1] = 0;
        }
        if (improved) {
          this.column = this.bestColumn;
          this.bestColumn = column;
        }
        continue;
      }
      for (let c = 0; c < C; c++) leftCounts[c] = 0;
      let nl = 0;
      // The highest bin present is no split: nothing would go right.
      for (let p = 0; p < nPresent - 1; p++) {
        const b = present[p];
        for (let c = 0; c < C; c++) {
          leftCounts[c] += counts[b * C + c];
          nl += counts[b * C + c];
        }
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
          bestBin = b;
          this.bestFeature = f;
          improved = true;
          for (let c = 0; c < C; c++) bestLeft[c] = leftCounts[c];
        }
      }
      // Plain stores: a typed array's fill() is a runtime call, too dear for a few entries.
      for (let p = 0; p < nPresent; p++) for (let c = 0; c < C; c++) counts[present[p] * C + c] = 0;
      if (improved) {
        this.column = this.bestColumn;
        this.bestColumn = column;
      }
    }
    return bestBin;
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

/**
 * The nodes a forest may have, about 350-450 bytes each once onnxruntime has loaded it (measured:
 * a 1.68M-node forest took 600 MB resident, 750 MB at its peak while loading), so a forest within
 * it serves from the default 1,024 MB inference function. Fully grown trees grow with the data
 * (a million rows would give a forest onnxruntime needs gigabytes for), so past it the trees stop
 * at a depth: see depthWithin.
 */
export const FOREST_NODE_BUDGET = 1_000_000;

/** Each node's depth (the root's is 0) of a tree stored as flat arrays, children after parents. */
function nodeDepths(tree: Tree): Int32Array {
  const depth = new Int32Array(tree.left.length);
  for (let node = 0; node < tree.left.length; node++) {
    if (tree.left[node] < 0) continue;
    depth[tree.left[node]] = depth[node] + 1;
    depth[tree.right[node]] = depth[node] + 1;
  }
  return depth;
}

/**
 * The largest depth at which `tree`, cut there, has at most `nodes` nodes (a cut tree keeps every
 * node up to that depth; the ones at it become leaves).
 */
export function depthWithin(tree: Tree, nodes: number): number {
  const depths = nodeDepths(tree);
  const atDepth: number[] = [];
  for (const d of depths) atDepth[d] = (atDepth[d] ?? 0) + 1;
  let kept = 0;
  for (let d = 0; d < atDepth.length; d++) {
    kept += atDepth[d] ?? 0;
    if (kept > nodes) return Math.max(1, d - 1);
  }
  return atDepth.length - 1;
}

/** The forest's trees; only the first when `budgeted` and it says the forest would pass the budget. */
function growForest(
  train: TrainingSet,
  binned: BinnedColumns,
  o: Options,
  context: FitContext,
  budgeted: boolean,
): Tree[] {
  const grower = new ForestGrower(binned, train.y, train.nClasses, o);
  const rng = new Rng(context.seed);
  const trees: Tree[] = [];
  for (let t = 0; t < o.nTrees; t++) {
    trees.push(grower.grow(rng.fork()));
    if (budgeted && t === 0 && trees[0].left.length * o.nTrees > FOREST_NODE_BUDGET) return trees;
    if ((t + 1) % 25 === 0) context.onProgress?.(`rf: ${t + 1}/${o.nTrees} trees`);
  }
  return trees;
}

function fit(train: TrainingSet, params: Params, context: FitContext): RandomForestModel {
  let o = optionsOf(params);
  if (train.x.rows === 0) throw new Error('rf needs training rows');
  if (!(o.nTrees >= 1)) throw new Error('rf needs nTrees >= 1');
  const binned = binColumns(train.x);
  let trees = growForest(train, binned, o, context, true);
  if (trees.length < o.nTrees) {
    // The first tree says the forest would pass the budget: grow it again with every tree cut at
    // the depth that keeps the first one within its share of the budget, and held to that share
    // (trees differ: the share is what guarantees the budget, the depth keeps them balanced).
    const first = trees[0].left.length;
    const maxNodes = Math.floor(FOREST_NODE_BUDGET / o.nTrees);
    const maxDepth = depthWithin(trees[0], maxNodes);
    context.onProgress?.(
      `rf: ${o.nTrees} trees like the first (${first.toLocaleString('en-US')} nodes) would pass the ` +
        `forest budget of ${FOREST_NODE_BUDGET.toLocaleString('en-US')} nodes; growing them to depth ${maxDepth} and ${maxNodes.toLocaleString('en-US')} nodes each at most`,
    );
    o = { ...o, maxDepth, maxNodes };
    trees = growForest(train, binned, o, context, false);
  }
  const { maxDepth, maxNodes, ...rest } = o;
  const resolved: Params = {
    ...rest,
    ...(Number.isFinite(maxDepth) ? { maxDepth } : {}),
    ...(Number.isFinite(maxNodes) ? { maxNodes } : {}),
  };
  return new RandomForestModel(resolved, train.nClasses, trees);
}

export const randomForestTrainer: Trainer = {
  algorithm: 'rf',
  supportsText: false,
  grid: () => [{ ...DEFAULTS }, { ...DEFAULTS, minSamplesLeaf: 3 }, { ...DEFAULTS, maxFeatures: 0.5 }],
  fit,
};
