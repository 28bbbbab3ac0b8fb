import {
  depthWithin,
  FOREST_NODE_BUDGET,
  randomForestTrainer,
  type RandomForestModel,
} from '../../training/algorithms/random-forest';
import { nodeCount, type Tree } from '../../training/algorithms/tree';
import { csrFromDense } from '../../training/matrix';
import { Rng } from '../../training/rng';

/** root 0 -> 1, 2; 1 -> 3, 4; 3 -> 5, 6: one node at depth 0, then two at each of depths 1-3. */
const tree: Tree = {
  feature: new Int32Array([0, 0, 0, 0, 0, 0, 0]),
  threshold: new Float32Array(7),
  left: new Int32Array([1, 3, -1, 5, -1, -1, -1]),
  right: new Int32Array([2, 4, -1, 6, -1, -1, -1]),
  value: new Float32Array(7),
  width: 1,
};

/** A forest on `rows` rows of three uniform features and a coin-flip label. */
function fitOnNoise(rows: number, nTrees: number, seed: number): { model: RandomForestModel; progress: string[] } {
  const rng = new Rng(seed);
  const data = Float64Array.from({ length: rows * 3 }, () => rng.next());
  const y = Int32Array.from({ length: rows }, () => rng.int(2));
  const progress: string[] = [];
  const model = randomForestTrainer.fit(
    { x: csrFromDense({ rows, cols: 3, data }), y, nClasses: 2 },
    { nTrees, maxFeatures: 'sqrt', minSamplesLeaf: 1 },
    { seed: 1, columns: [], onProgress: (m) => progress.push(m) },
  ) as RandomForestModel;
  return { model, progress };
}

describe('the forest budget', () => {
  it.each([
    [7, 3],
    [6, 2],
    [5, 2],
    [4, 1],
    [3, 1],
    [1, 1],
  ])('cuts a tree at the deepest level within %d nodes (%d)', (nodes, depth) => {
    expect(depthWithin(tree, nodes)).toBe(depth);
  });

  it('grows a forest that would pass the budget to a depth that keeps it near the budget', () => {
    // Labels unrelated to the features: fully grown trees keep almost a leaf per distinct row,
    // about 70,000 nodes each, so 100 of them would be seven times the budget.
    const { model, progress } = fitOnNoise(60_000, 100, 3);
    expect(model.trees).toHaveLength(100);
    expect(progress[0]).toMatch(
      /100 trees like the first \([\d,]+ nodes\) would pass the forest budget of 1,000,000 nodes; growing them to depth \d+ and 10,000 nodes each at most/,
    );
    const depth = model.params.maxDepth as number;
    expect(progress[0]).toContain(`depth ${depth} and`);
    expect(model.params.maxNodes).toBe(10_000);
    expect(Math.max(...model.trees.map((t) => t.left.length))).toBeLessThanOrEqual(10_000);
    expect(depth).toBeGreaterThan(5);
    const nodes = nodeCount(model.trees);
    expect(nodes).toBeLessThanOrEqual(FOREST_NODE_BUDGET);
    expect(nodes).toBeGreaterThan(0.5 * FOREST_NODE_BUDGET);
  });

  it('leaves a forest within the budget fully grown', () => {
    const { model, progress } = fitOnNoise(2_000, 20, 4);
    expect(model.params.maxDepth).toBeUndefined();
    expect(model.params.maxNodes).toBeUndefined();
    expect(progress.some((m) => m.includes('budget'))).toBe(false);
    expect(model.trees).toHaveLength(20);
  });
});
