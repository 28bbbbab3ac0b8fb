import type { BinnedColumns } from './histogram';
import { LeafRows } from './leaf-rows';
import { type Tree, TreeBuilder } from './tree';
import { pushAll } from '../../core/arrays';

/** What a tree is grown with (the boosting options that shape one tree). */
export interface GrowerOptions {
  readonly learningRate: number;
  readonly maxLeafNodes: number;
  readonly minSamplesLeaf: number;
  readonly l2Regularization: number;
  readonly maxDepth: number;
}

/** sklearn's guard: a child needs at least this much hessian. */
const MIN_HESSIAN = 1e-3;
/** Gains this close to zero are rounding noise, not signal. */
const MIN_GAIN = 1e-12;

/** Splitting at `bin` of `feature` sends rows with these gradient/hessian sums left. */
type Split = { gain: number; feature: number; bin: number; gLeft: number; hLeft: number };

/** A leaf being grown: its rows are order[start, end); g/h are their gradient/hessian sums; hist is a LeafRows histogram handle (-1: none). */
type Leaf = {
  id: number;
  start: number;
  end: number;
  depth: number;
  g: number;
  h: number;
  hist: number;
  split: Split | null;
};

/** One constructor, so every Leaf has the same shape and hot loops stay monomorphic. */
function newLeaf(id: number, start: number, end: number, depth: number, g: number, h: number): Leaf {
  return { id, start, end, depth, g, h, hist: -1, split: null };
}

/** Grows one tree leaf-wise (best gain first) on gradient/hessian histograms. */
export class Grower {
  private readonly rows: LeafRows;
  private readonly pool: number[] = [];

  constructor(
    private readonly binned: BinnedColumns,
    private readonly o: GrowerOptions,
    /** Gradient blocks: one per class a tree is grown for. */
    blocks: number,
  ) {
    this.rows = new LeafRows(binned, blocks);
  }

  /** Gradients and hessians to grow on, [block * rows + row]; fill them before each `grow`. */
  get g(): Float64Array {
    return this.rows.g;
  }

  get h(): Float64Array {
    return this.rows.h;
  }

  /** The rows in leaf order: a returned leaf's rows are order[leaf.start, leaf.end). */
  get order(): Int32Array {
    return this.rows.order;
  }

  /** Grows on g/h[offset + row]; leaves' ranges index `this.order` until the next call. */
  grow(offset: number): { tree: Tree; leaves: Leaf[]; values: number[] } {
    const { o } = this;
    const n = this.binned.rows;
    this.rows.reset();
    const root = newLeaf(0, 0, n, 0, 0, 0);
    const { g, h } = this.rows;
    for (let i = 0; i < n; i++) {
      root.g += g[offset + i];
      root.h += h[offset + i];
    }
    const builder = new TreeBuilder(1);
    const done: Leaf[] = [];
    const open: Leaf[] = [];
    if (this.splittable(root)) {
      root.hist = this.build(offset, root);
      this.settle(root, open, done);
    } else done.push(root);
    let nLeaves = 1;
    while (open.length > 0 && nLeaves < o.maxLeafNodes) {
      let best = 0;
      for (let i = 1; i < open.length; i++) if (open[i].split!.gain > open[best].split!.gain) best = i;
      const node = open.splice(best, 1)[0];
      const s = node.split!;
      const mid = this.rows.partition(node.start, node.end, s.feature, s.bin);
      const id = builder.split(node.id, s.feature, this.binned.edges[s.feature][s.bin]);
      nLeaves++;
      const depth = node.depth + 1;
      const left = newLeaf(id, node.start, mid, depth, s.gLeft, s.hLeft);
      const right = newLeaf(id + 1, mid, node.end, depth, node.g - s.gLeft, node.h - s.hLeft);
      const grows = nLeaves < o.maxLeafNodes && (this.splittable(left) || this.splittable(right));
      if (grows) {
        // Sibling subtraction: only the smaller child is histogrammed from its rows.
        const [small, large] = mid - node.start <= node.end - mid ? [left, right] : [right, left];
        small.hist = this.build(offset, small);
        const parent = this.rows.histogramView(node.hist);
        const smallHist = this.rows.histogramView(small.hist);
        for (let i = 0; i < parent.length; i++) parent[i] -= smallHist[i];
        large.hist = node.hist;
      } else this.pool.push(node.hist);
      for (const child of [left, right]) {
        if (grows && this.splittable(child)) this.settle(child, open, done);
        else {
          if (child.hist >= 0) this.pool.push(child.hist);
          done.push(child);
        }
      }
    }
    for (const leaf of open) this.pool.push(leaf.hist);
    pushAll(done, open);
    const values = done.map((leaf) => builder.setLeaf(leaf.id, 0, this.leafValue(leaf)));
    return { tree: builder.build(), leaves: done, values };
  }

  private leafValue(leaf: Leaf): number {
    const denominator = leaf.h + this.o.l2Regularization;
    return denominator > 0 ? (-this.o.learningRate * leaf.g) / denominator : 0;
  }

  private splittable(leaf: Leaf): boolean {
    return (
      leaf.end - leaf.start >= 2 * this.o.minSamplesLeaf && leaf.h >= 2 * MIN_HESSIAN && leaf.depth < this.o.maxDepth
    );
  }

  /** Finds the leaf's best split; it waits in `open` if there is one, else it is final. */
  private settle(leaf: Leaf, open: Leaf[], done: Leaf[]): void {
    leaf.split = this.bestSplit(leaf);
    if (leaf.split) open.push(leaf);
    else {
      this.pool.push(leaf.hist);
      leaf.hist = -1;
      done.push(leaf);
    }
  }

  private build(offset: number, leaf: Leaf): number {
    const hist = this.pool.pop() ?? this.rows.newHistogram();
    this.rows.histogram(leaf.start, leaf.end, offset, { g: leaf.g, h: leaf.h }, hist);
    return hist;
  }

  private bestSplit(leaf: Leaf): Split | null {
    const { edges, cols, offsets } = this.binned;
    const { minSamplesLeaf, l2Regularization: l2 } = this.o;
    const hist = this.rows.histogramView(leaf.hist);
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
