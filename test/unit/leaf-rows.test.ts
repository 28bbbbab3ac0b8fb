import { binColumns } from '../../training/algorithms/histogram';
import { LeafRows } from '../../training/algorithms/leaf-rows';
import { csrFromDense } from '../../training/matrix';
import { Rng } from '../../training/rng';

/** Columns 0-2 dense (numeric, a one-hot pair), 3-5 sparse (stored in ~5% of rows). */
function matrix(rows: number) {
  const rng = new Rng(3);
  const cols = 6;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const cat = rng.int(2);
    const sparse = (): number => (rng.next() < 0.05 ? Math.fround(rng.next() * 3 + 0.5) : 0);
    data.set([Math.fround(rng.next() * 10 - 5), cat, 1 - cat, sparse(), sparse(), rng.next() < 0.05 ? 1 : 0], r * cols);
  }
  return csrFromDense({ rows, cols, data });
}

/** The histogram from first principles: every column's bin of every row, read column-major. */
function bruteForce(binned: ReturnType<typeof binColumns>, rows: ArrayLike<number>, g: Float64Array, h: Float64Array) {
  const hist = new Float64Array(binned.offsets[binned.cols] * 3);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    for (let c = 0; c < binned.cols; c++) {
      const j = (binned.offsets[c] + binned.bins[c * binned.rows + r]) * 3;
      hist[j] += g[r];
      hist[j + 1] += h[r];
      hist[j + 2] += 1;
    }
  }
  return hist;
}

function sums(rows: ArrayLike<number>, g: Float64Array, h: Float64Array) {
  let sg = 0;
  let sh = 0;
  for (let i = 0; i < rows.length; i++) {
    sg += g[rows[i]];
    sh += h[rows[i]];
  }
  return { g: sg, h: sh };
}

function expectClose(actual: Float64Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let j = 0; j < actual.length; j++) worst = Math.max(worst, Math.abs(actual[j] - expected[j]));
  expect(worst).toBeLessThan(1e-9);
}

describe('LeafRows', () => {
  const rows = 3000;
  const binned = binColumns(matrix(rows));
  const rng = new Rng(11);
  const g = Float64Array.from({ length: rows }, () => rng.next() - 0.5);
  const h = Float64Array.from({ length: rows }, () => rng.next() * 0.25);

  it('packs the dense columns and keeps the sparse ones as entries', () => {
    expect(Array.from(binned.packedCols)).toEqual([0, 1, 2]);
    expect(Array.from(binned.sparseCols)).toEqual([3, 4, 5]);
    expect(binned.packed.length).toBe(rows * 3);
  });

  /** LeafRows over the matrix with `g`/`h` copied into its gradient block `block` of `blocks`. */
  function leafRows(blocks = 1, block = 0): LeafRows {
    const leaves = new LeafRows(binned, blocks);
    leaves.g.set(g, block * rows);
    leaves.h.set(h, block * rows);
    leaves.reset();
    return leaves;
  }

  function histogramOf(leaves: LeafRows, start: number, end: number, offset = 0): Float64Array {
    const handle = leaves.newHistogram();
    leaves.histogram(start, end, offset, sums(Array.from(leaves.order.subarray(start, end)), g, h), handle);
    return leaves.histogramView(handle);
  }

  it('partitions stably by a packed and by a sparse column, and histograms each part exactly', () => {
    const leaves = leafRows();
    const all = Array.from({ length: rows }, (_, r) => r);
    expectClose(histogramOf(leaves, 0, rows), bruteForce(binned, all, g, h));

    // Split on the numeric column at its middle bin, then the left part on sparse column 3.
    const bin = Math.floor(binned.edges[0].length / 2);
    const mid = leaves.partition(0, rows, 0, bin);
    const left = all.filter((r) => binned.bins[r] <= bin);
    expect(Array.from(leaves.order.subarray(0, mid))).toEqual(left);
    expect(Array.from(leaves.order.subarray(mid))).toEqual(all.filter((r) => binned.bins[r] > bin));

    const zeroBin = binned.bins[3 * rows + left.find((r) => binned.bins[3 * rows + r] === 0)!];
    const split = leaves.partition(0, mid, 3, zeroBin);
    const lowLeft = left.filter((r) => binned.bins[3 * rows + r] <= zeroBin);
    expect(lowLeft.length).toBeGreaterThan(0);
    expect(lowLeft.length).toBeLessThan(left.length);
    expect(Array.from(leaves.order.subarray(0, split))).toEqual(lowLeft);

    const highLeft = Array.from(leaves.order.subarray(split, mid));
    expectClose(histogramOf(leaves, split, mid), bruteForce(binned, highLeft, g, h));
    // The right part of the first split, on a packed one-hot column.
    const right = leaves.partition(mid, rows, 1, 0);
    const rightRows = all.filter((r) => binned.bins[r] > bin);
    expect(Array.from(leaves.order.subarray(mid, right))).toEqual(rightRows.filter((r) => binned.bins[rows + r] === 0));
    expectClose(
      histogramOf(leaves, right, rows),
      bruteForce(
        binned,
        rightRows.filter((r) => binned.bins[rows + r] > 0),
        g,
        h,
      ),
    );
  });

  it('reads gradients at an offset (a multiclass tree reads its class block)', () => {
    const leaves = leafRows(2, 1);
    const all = Array.from({ length: rows }, (_, r) => r);
    expectClose(histogramOf(leaves, 0, rows, rows), bruteForce(binned, all, g, h));
  });

  it('keeps every histogram and view valid as new histograms grow the memory', () => {
    const leaves = leafRows();
    const all = Array.from({ length: rows }, (_, r) => r);
    const expected = bruteForce(binned, all, g, h);
    const handles = Array.from({ length: 80 }, () => leaves.newHistogram());
    leaves.histogram(0, rows, 0, sums(all, g, h), handles[0]);
    leaves.histogram(0, rows, 0, sums(all, g, h), handles[79]);
    expectClose(leaves.histogramView(handles[0]), expected);
    expectClose(leaves.histogramView(handles[79]), expected);
    expect(Array.from(leaves.order.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(leaves.g[7]).toBe(g[7]);
  });
});
