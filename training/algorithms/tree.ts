import { type GraphBuilder, ML_DOMAIN } from '../onnx/graph-builder';

/**
 * A fitted binary tree in flat arrays. Node 0 is the root; a leaf has left = right = -1.
 * Leaves hold `width` values (one raw score for a boosted tree, a class distribution for a forest
 * tree), stored as float32 because that is what the exported graph adds up.
 */
export interface Tree {
  readonly feature: Int32Array;
  readonly threshold: Float32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** value[node * width + j]; only leaves' entries are meaningful. */
  readonly value: Float32Array;
  readonly width: number;
}

/** Grows a Tree one split at a time, in whatever order the learner visits nodes. */
export class TreeBuilder {
  private readonly feature: number[] = [-1];
  private readonly threshold: number[] = [0];
  private readonly left: number[] = [-1];
  private readonly right: number[] = [-1];
  private readonly value: number[];

  constructor(private readonly width: number) {
    this.value = new Array<number>(width).fill(0);
  }

  /** Turns leaf `node` into a split (go left when x[feature] <= threshold); returns the left child's id, the right one is id + 1. */
  split(node: number, feature: number, threshold: number): number {
    const child = this.left.length;
    this.feature[node] = feature;
    this.threshold[node] = threshold;
    this.left[node] = child;
    this.right[node] = child + 1;
    for (let i = 0; i < 2; i++) {
      this.feature.push(-1);
      this.threshold.push(0);
      this.left.push(-1);
      this.right.push(-1);
      for (let j = 0; j < this.width; j++) this.value.push(0);
    }
    return child;
  }

  /** Sets a leaf value; returns it rounded to float32, the number predictions will use. */
  setLeaf(node: number, j: number, value: number): number {
    const rounded = Math.fround(value);
    this.value[node * this.width + j] = rounded;
    return rounded;
  }

  build(): Tree {
    return {
      feature: Int32Array.from(this.feature),
      threshold: Float32Array.from(this.threshold),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      value: Float32Array.from(this.value),
      width: this.width,
    };
  }
}

/**
 * Nodes (split + leaf) over all trees: a tree ensemble's size, one per node whatever it holds
 * (a split's feature and threshold, a leaf's value or class shares). scikit-learn's side counts
 * tree_.node_count per forest tree and the nodes of every HistGradientBoosting predictor.
 */
export function nodeCount(trees: readonly Tree[]): number {
  let n = 0;
  for (const tree of trees) n += tree.left.length;
  return n;
}

/**
 * The leaf reached by the row at x[offset ...] (dense float32, as toFloat32 gives). Comparing
 * float32 inputs with float32 thresholds is the ONNX runtime's decision, bit for bit.
 */
export function leafOf(tree: Tree, x: Float32Array, offset: number): number {
  const { feature, threshold, left, right } = tree;
  let node = 0;
  while (left[node] >= 0) node = x[offset + feature[node]] <= threshold[node] ? left[node] : right[node];
  return node;
}

/**
 * Appends an ai.onnx.ml TreeEnsembleRegressor (SUM, no post transform) computing
 * base + the sum of every tree's leaf values, as [N, nTargets]. Tree t's leaf value j goes to
 * target targetOffsets[t] + j. Returns the scores' tensor name.
 */
export function emitTreeEnsemble(
  graph: GraphBuilder,
  features: string,
  trees: readonly Tree[],
  targetOffsets: ArrayLike<number>,
  baseValues: readonly number[],
): string {
  // Typed lists sized up front: a forest on a million rows has millions of nodes.
  const nodes = trees.reduce((sum, tree) => sum + tree.left.length, 0);
  const treeIds = new Int32Array(nodes);
  const nodeIds = new Int32Array(nodes);
  const featureIds = new Int32Array(nodes);
  const modes = new Array<string>(nodes);
  const values = new Float32Array(nodes);
  const trueIds = new Int32Array(nodes);
  const falseIds = new Int32Array(nodes);
  // One target entry per non-zero leaf value (zero weights add nothing under SUM).
  let weights = 0;
  for (const tree of trees) {
    for (let node = 0; node < tree.left.length; node++) {
      if (tree.left[node] >= 0) continue;
      for (let j = 0; j < tree.width; j++) if (tree.value[node * tree.width + j] !== 0) weights++;
    }
  }
  // All-zero leaves: keep one explicit zero so the target lists are never empty.
  const targets = Math.max(1, weights);
  const tTree = new Int32Array(targets);
  const tNode = new Int32Array(targets);
  const tId = new Int32Array(targets);
  const tWeight = new Float32Array(targets);
  let at = 0;
  let target = 0;
  trees.forEach((tree, t) => {
    for (let node = 0; node < tree.left.length; node++, at++) {
      const leaf = tree.left[node] < 0;
      treeIds[at] = t;
      nodeIds[at] = node;
      featureIds[at] = leaf ? 0 : tree.feature[node];
      modes[at] = leaf ? 'LEAF' : 'BRANCH_LEQ';
      values[at] = leaf ? 0 : tree.threshold[node];
      trueIds[at] = leaf ? 0 : tree.left[node];
      falseIds[at] = leaf ? 0 : tree.right[node];
      if (!leaf) continue;
      for (let j = 0; j < tree.width; j++) {
        const w = tree.value[node * tree.width + j];
        // Zero weights add nothing under SUM; leaving them out shrinks forests a lot.
        if (w === 0) continue;
        tTree[target] = t;
        tNode[target] = node;
        tId[target] = targetOffsets[t] + j;
        tWeight[target++] = w;
      }
    }
  });
  if (target === 0) {
    tNode[0] = trees[0].left.findIndex((l) => l < 0);
    tId[0] = targetOffsets[0];
  }
  return graph.op(
    'TreeEnsembleRegressor',
    [features],
    {
      aggregate_function: 'SUM',
      post_transform: 'NONE',
      n_targets: baseValues.length,
      base_values: { floats: [...baseValues] },
      nodes_treeids: { ints: treeIds },
      nodes_nodeids: { ints: nodeIds },
      nodes_featureids: { ints: featureIds },
      nodes_modes: modes,
      nodes_values: { floats: values },
      nodes_truenodeids: { ints: trueIds },
      nodes_falsenodeids: { ints: falseIds },
      target_treeids: { ints: tTree },
      target_nodeids: { ints: tNode },
      target_ids: { ints: tId },
      target_weights: { floats: tWeight },
    },
    ML_DOMAIN,
  );
}
