import { binColumns, type BinnedColumns, MAX_BINS, partitionRows } from '../../training/algorithms/histogram';
import { randomForestTrainer, type RandomForestModel } from '../../training/algorithms/random-forest';
import { type Tree, TreeBuilder } from '../../training/algorithms/tree';
import type { Params, TrainingSet } from '../../training/algorithms/types';
import { csrFromDense } from '../../training/matrix';
import { Rng } from '../../training/rng';

/**
 * The forest's grower keeps a bootstrap sample as distinct rows with weights in ascending row
 * order, carries class counts from parent to child and scans only the bins present in a node.
 * None of that may change a tree: this is the plain grower it replaced (every drawn row kept, in
 * drawing order, histograms over all bins between the lowest and the highest), and the forest
 * must grow exactly its trees from the same random stream.
 */
function referenceTree(binned: BinnedColumns, y: Int32Array, C: number, o: Required<ReferenceOptions>, rng: Rng): Tree {
  const n = binned.rows;
  const order = new Int32Array(n);
  const scratch = new Int32Array(n);
  const features = Int32Array.from({ length: binned.cols }, (_, f) => f);
  const counts = new Int32Array(MAX_BINS * C);
  const binSizes = new Int32Array(MAX_BINS);
  for (let i = 0; i < n; i++) order[i] = rng.int(n);
  const builder = new TreeBuilder(C);
  const stack: number[] = [0, 0, n, 0];
  while (stack.length > 0) {
    const depth = stack.pop()!;
    const end = stack.pop()!;
    const start = stack.pop()!;
    const id = stack.pop()!;
    const nodeCounts = new Float64Array(C);
    for (let i = start; i < end; i++) nodeCounts[y[order[i]]]++;
    const size = end - start;
    const pure = nodeCounts.some((c) => c === size);
    let best: { feature: number; bin: number } | null = null;
    if (!pure && size >= 2 * o.minSamplesLeaf && depth < o.maxDepth) {
      let bestScore = -Infinity;
      let visited = 0;
      for (let j = 0; j < features.length && visited < o.mtry; j++) {
        const k = j + rng.int(features.length - j);
        const f = features[k];
        features[k] = features[j];
        features[j] = f;
        counts.fill(0);
        binSizes.fill(0);
        for (let i = start; i < end; i++) {
          const b = binned.bins[f * n + order[i]];
          counts[b * C + y[order[i]]]++;
          binSizes[b]++;
        }
        const lo = binSizes.findIndex((s) => s > 0);
        const hi = MAX_BINS - 1 - [...binSizes].reverse().findIndex((s) => s > 0);
        if (lo === hi) continue;
        visited++;
        const left = new Float64Array(C);
        let nl = 0;
        for (let b = lo; b < hi; b++) {
          for (let c = 0; c < C; c++) left[c] += counts[b * C + c];
          nl += binSizes[b];
          if (binSizes[b] === 0 || nl < o.minSamplesLeaf) continue;
          const nr = size - nl;
          if (nr < o.minSamplesLeaf) break;
          let sl = 0;
          let sr = 0;
          for (let c = 0; c < C; c++) {
            sl += left[c] * left[c];
            sr += (nodeCounts[c] - left[c]) ** 2;
          }
          const score = sl / nl + sr / nr;
          if (score > bestScore) {
            bestScore = score;
            best = { feature: f, bin: b };
          }
        }
      }
    }
    if (!best) {
      for (let c = 0; c < C; c++) builder.setLeaf(id, c, nodeCounts[c] / size / o.nTrees);
      continue;
    }
    const child = builder.split(id, best.feature, binned.edges[best.feature][best.bin]);
    const mid = partitionRows(binned, order, scratch, start, end, best.feature, best.bin);
    stack.push(child + 1, mid, end, depth + 1, child, start, mid, depth + 1);
  }
  return builder.build();
}

interface ReferenceOptions {
  nTrees: number;
  mtry: number;
  minSamplesLeaf: number;
  maxDepth?: number;
}

function referenceForest(set: TrainingSet, o: ReferenceOptions, seed: number): Tree[] {
  const binned = binColumns(set.x);
  const rng = new Rng(seed);
  const full = { maxDepth: Infinity, ...o };
  return Array.from({ length: o.nTrees }, () => referenceTree(binned, set.y, set.nClasses, full, rng.fork()));
}

/**
 * Columns of every kind a split meets: continuous (more distinct values than bins, so quantile
 * bins), a few integer levels with many ties, a sparse one-hot pair, a constant and a rare value.
 */
function randomSet(rows: number, nClasses: number, seed: number): TrainingSet {
  const rng = new Rng(seed);
  const cols = 7;
  const data = new Float64Array(rows * cols);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = Math.fround(rng.next() * 10 - 5);
    const levels = rng.int(6);
    const cat = rng.int(3);
    const rare = rng.next() < 0.02 ? 1 : 0;
    data.set([a, levels, cat === 1 ? 1 : 0, cat === 2 ? 1 : 0, 4, rare, Math.fround(rng.next())], r * cols);
    // Noisy labels, so trees grow deep and reach the small nodes.
    y[r] = rng.next() < 0.3 ? rng.int(nClasses) : ((Math.floor(a + levels + cat) % nClasses) + nClasses) % nClasses;
  }
  return { x: csrFromDense({ rows, cols, data }), y, nClasses };
}

function plain(tree: Tree): Record<string, number[] | number> {
  return {
    feature: Array.from(tree.feature),
    threshold: Array.from(tree.threshold),
    left: Array.from(tree.left),
    right: Array.from(tree.right),
    value: Array.from(tree.value),
    width: tree.width,
  };
}

describe('random forest grower', () => {
  it.each<[string, number, Params, ReferenceOptions]>([
    [
      'sqrt, 2 classes',
      2,
      { nTrees: 4, maxFeatures: 'sqrt', minSamplesLeaf: 1 },
      { nTrees: 4, mtry: 2, minSamplesLeaf: 1 },
    ],
    [
      'sqrt, min leaf 3',
      2,
      { nTrees: 4, maxFeatures: 'sqrt', minSamplesLeaf: 3 },
      { nTrees: 4, mtry: 2, minSamplesLeaf: 3 },
    ],
    [
      'half, 3 classes',
      3,
      { nTrees: 4, maxFeatures: 0.5, minSamplesLeaf: 1 },
      { nTrees: 4, mtry: 3, minSamplesLeaf: 1 },
    ],
    [
      'all features, 4 classes, min leaf 5',
      4,
      { nTrees: 3, maxFeatures: 1, minSamplesLeaf: 5 },
      { nTrees: 3, mtry: 7, minSamplesLeaf: 5 },
    ],
    [
      'depth 4',
      3,
      { nTrees: 3, maxFeatures: 'sqrt', minSamplesLeaf: 2, maxDepth: 4 },
      { nTrees: 3, mtry: 2, minSamplesLeaf: 2, maxDepth: 4 },
    ],
  ])('grows the same trees as the plain grower (%s)', (_name, nClasses, params, reference) => {
    const set = randomSet(1500, nClasses, nClasses * 31 + reference.minSamplesLeaf);
    const model = randomForestTrainer.fit(set, params, { seed: 5, columns: [] }) as RandomForestModel;
    const expected = referenceForest(set, reference, 5);
    expect(model.trees).toHaveLength(expected.length);
    // Deep trees (not stumps), or the comparison would not reach the small-node scans.
    expect(Math.max(...expected.map((t) => t.left.length))).toBeGreaterThan(reference.maxDepth ? 20 : 200);
    model.trees.forEach((tree, t) => expect(plain(tree)).toEqual(plain(expected[t])));
  });
});
