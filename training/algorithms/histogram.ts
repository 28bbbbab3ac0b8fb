import type { CsrMatrix } from '../matrix';

/** sklearn's cap: a bin index fits in one byte, so a binned column costs one byte per row. */
export const MAX_BINS = 255;

/**
 * The training columns mapped to bin indices, shared by the tree learners. Splits are chosen
 * between bins; `edges[c][b]` is the split threshold between bins b and b+1 of column c. Each
 * edge is the largest training value of its bin, so it is float32 already, and `x <= edge` sends
 * exactly the lower bins left: the comparison ONNX TreeEnsemble (BRANCH_LEQ) makes on float32 input.
 */
export interface BinnedColumns {
  readonly rows: number;
  readonly cols: number;
  /** Column-major, bins[c * rows + r]: a split scans one column over many rows. */
  readonly bins: Uint8Array;
  /** Per column, ascending; the column has edges[c].length + 1 bins. */
  readonly edges: readonly Float32Array[];
  /** Where column c's bins start when all columns' bins are laid end to end (length cols + 1). */
  readonly offsets: Int32Array;
  /**
   * The columns stored in at least one row in PACKED_DENSITY (numeric features, small one-hot
   * blocks), also kept row by row: packed[r * packedCols.length + p] is row r's bin in column
   * packedCols[p]. A histogram reads a row's bins as one run of bytes instead of a sparse entry each.
   */
  readonly packedCols: Int32Array;
  readonly packed: Uint8Array;
  /**
   * The other (sparse) columns' stored entries, for histograms that cost one add per entry: row r's
   * are slots[rowPtr[r] .. rowPtr[r+1]), each a global bin index (offsets[c] + bin); sparse column
   * sparseCols[i]'s absent entries fall in bin zeroSlots[i].
   */
  readonly sparseCols: Int32Array;
  readonly rowPtr: Int32Array;
  readonly slots: Int32Array;
  readonly zeroSlots: Int32Array;
}

/** Column-major float32 copy; float32 because that is what the exported graph compares. */
function columnsOf(x: CsrMatrix): Float32Array {
  const out = new Float32Array(x.rows * x.cols);
  for (let r = 0; r < x.rows; r++) {
    for (let k = x.rowPtr[r]; k < x.rowPtr[r + 1]; k++) out[x.colIdx[k] * x.rows + r] = x.values[k];
  }
  return out;
}

/**
 * Bin edges of one column: every distinct value gets its own bin when they fit, otherwise bins of
 * roughly equal counts (quantiles) whose edges are training values, never midpoints.
 */
export function edgesOf(column: Float32Array, maxBins = MAX_BINS): Float32Array {
  const sorted = Float32Array.from(column).sort();
  const n = sorted.length;
  let distinct = n > 0 ? 1 : 0;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  const edges: number[] = [];
  let next = 1;
  // i ends a run of equal values; the last run never closes a bin (nothing lies above it).
  for (let i = 0; i < n - 1; i++) {
    if (sorted[i] === sorted[i + 1]) continue;
    const below = i + 1;
    if (distinct <= maxBins) {
      edges.push(sorted[i]);
    } else if (below * maxBins >= next * n) {
      // `below < n` here, so `next` stays under maxBins and at most maxBins - 1 edges are made.
      edges.push(sorted[i]);
      next = Math.floor((below * maxBins) / n) + 1;
    }
  }
  return Float32Array.from(edges);
}

/** Index of the first edge >= v, i.e. the bin of v. */
function binOf(edges: Float32Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A column stored in at least this share of rows is packed (one byte per row), else kept sparse. */
const PACKED_DENSITY = 1 / 8;

export function binColumns(x: CsrMatrix, maxBins = MAX_BINS): BinnedColumns {
  if (maxBins < 2 || maxBins > MAX_BINS) throw new Error(`maxBins must be in [2, ${MAX_BINS}]`);
  const { rows, cols } = x;
  const columns = columnsOf(x);
  const bins = new Uint8Array(rows * cols);
  const edges: Float32Array[] = [];
  const offsets = new Int32Array(cols + 1);
  for (let c = 0; c < cols; c++) {
    const column = columns.subarray(c * rows, (c + 1) * rows);
    const e = edgesOf(column, maxBins);
    edges.push(e);
    offsets[c + 1] = offsets[c] + e.length + 1;
    if (e.length === 0) continue;
    for (let r = 0; r < rows; r++) bins[c * rows + r] = binOf(e, column[r]);
  }
  const stored = new Int32Array(cols);
  for (let k = 0; k < x.colIdx.length; k++) stored[x.colIdx[k]]++;
  const isPacked = Array.from(stored, (n) => n >= rows * PACKED_DENSITY);
  const packedCols = Int32Array.from(isPacked.flatMap((p, c) => (p ? [c] : [])));
  const sparseCols = Int32Array.from(isPacked.flatMap((p, c) => (p ? [] : [c])));
  const width = packedCols.length;
  const packed = new Uint8Array(rows * width);
  for (let p = 0; p < width; p++) {
    const column = bins.subarray(packedCols[p] * rows, (packedCols[p] + 1) * rows);
    for (let r = 0; r < rows; r++) packed[r * width + p] = column[r];
  }
  const rowPtr = new Int32Array(rows + 1);
  const slots = new Int32Array(x.colIdx.length - packedCols.reduce((n, c) => n + stored[c], 0));
  let j = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = x.rowPtr[r]; k < x.rowPtr[r + 1]; k++) {
      const c = x.colIdx[k];
      if (!isPacked[c]) slots[j++] = offsets[c] + binOf(edges[c], Math.fround(x.values[k]));
    }
    rowPtr[r + 1] = j;
  }
  const zeroSlots = Int32Array.from(sparseCols, (c) => offsets[c] + binOf(edges[c], 0));
  return { rows, cols, bins, edges, offsets, packedCols, packed, sparseCols, rowPtr, slots, zeroSlots };
}

/**
 * Stable in-place partition of order[start, end) by one column's bins: rows in bins <= `bin`
 * first. Returns where the right part starts. `scratch` must hold end - start entries.
 */
export function partitionRows(
  binned: BinnedColumns,
  order: Int32Array,
  scratch: Int32Array,
  start: number,
  end: number,
  feature: number,
  bin: number,
): number {
  const column = binned.bins.subarray(feature * binned.rows, (feature + 1) * binned.rows);
  let left = start;
  let right = 0;
  for (let i = start; i < end; i++) {
    const row = order[i];
    if (column[row] <= bin) order[left++] = row;
    else scratch[right++] = row;
  }
  order.set(scratch.subarray(0, right), left);
  return left;
}
