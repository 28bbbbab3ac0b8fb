import type { BinnedColumns } from './histogram';

/**
 * The training rows in the order a growing tree's leaves hold them: a leaf's rows are
 * order[start, end). Partitions are stable, so a leaf's rows stay in ascending row order and its
 * histogram reads the packed bins (row-major, binned.packed) front to back, skipping the rows of
 * other leaves. Measured: moving only the row ids (4 bytes a row) partitions 2.3x faster than also
 * moving each row's packed bins, and reading bins in place costs no more than reading moved ones.
 */
export class LeafRows {
  readonly order: Int32Array;
  private readonly width: number;
  /** Column -> its position in a packed row, or -1 for a sparse column. */
  private readonly packedPosition: Int32Array;
  /** Where packed column p's bins start in a histogram (offsets[packedCols[p]] * 3). */
  private readonly packedBase: Int32Array;
  private readonly scratch: Int32Array;

  constructor(private readonly binned: BinnedColumns) {
    const { rows, cols, packedCols, offsets } = binned;
    this.order = new Int32Array(rows);
    this.width = packedCols.length;
    this.packedPosition = new Int32Array(cols).fill(-1);
    packedCols.forEach((c, p) => (this.packedPosition[c] = p));
    this.packedBase = Int32Array.from(packedCols, (c) => offsets[c] * 3);
    this.scratch = new Int32Array(rows);
  }

  /** All rows in row order again: a new tree's root. */
  reset(): void {
    const { order } = this;
    for (let i = 0; i < order.length; i++) order[i] = i;
  }

  /**
   * Stable partition of rows [start, end) by column `feature`: rows in bins <= `bin` first.
   * Returns where the right part starts.
   */
  partition(start: number, end: number, feature: number, bin: number): number {
    const { order, width, scratch } = this;
    const p = this.packedPosition[feature];
    const { rows, packed } = this.binned;
    // A packed column's bin is at r * width + p; a sparse one's in its column-major block.
    const bins = p < 0 ? this.binned.bins : packed;
    const stride = p < 0 ? 1 : width;
    const at = p < 0 ? feature * rows : p;
    let left = start;
    let right = 0;
    for (let i = start; i < end; i++) {
      const r = order[i];
      if (bins[at + r * stride] <= bin) order[left++] = r;
      else scratch[right++] = r;
    }
    order.set(scratch.subarray(0, right), left);
    return left;
  }
  /**
   * Fills `hist` with [sum g, sum h, count] per bin (global bin index, so a one-hot column takes
   * 2 slots, not 255) over rows [start, end), reading g/h[offset + row]. A sparse column's absent
   * (zero) entries get what is left of `totals`, the rows' sums, so they cost nothing per row.
   */
  histogram(
    start: number,
    end: number,
    g: Float64Array,
    h: Float64Array,
    offset: number,
    totals: { g: number; h: number },
    hist: Float64Array,
  ): void {
    const { order, width, packedBase } = this;
    const { packed } = this.binned;
    hist.fill(0);
    for (let i = start; i < end; i++) {
      const r = order[i];
      const gr = g[offset + r];
      const hr = h[offset + r];
      for (let p = 0, from = r * width; p < width; p++) {
        const j = packedBase[p] + packed[from + p] * 3;
        hist[j] += gr;
        hist[j + 1] += hr;
        hist[j + 2] += 1;
      }
    }
    if (this.binned.sparseCols.length > 0) this.sparseHistogram(start, end, g, h, offset, totals, hist);
  }

  private sparseHistogram(
    start: number,
    end: number,
    g: Float64Array,
    h: Float64Array,
    offset: number,
    totals: { g: number; h: number },
    hist: Float64Array,
  ): void {
    const { sparseCols, offsets, rowPtr, slots, zeroSlots } = this.binned;
    const { order } = this;
    for (let i = start; i < end; i++) {
      const r = order[i];
      const gr = g[offset + r];
      const hr = h[offset + r];
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
        const j = slots[k] * 3;
        hist[j] += gr;
        hist[j + 1] += hr;
        hist[j + 2] += 1;
      }
    }
    for (let s = 0; s < sparseCols.length; s++) {
      const c = sparseCols[s];
      let sg = 0;
      let sh = 0;
      let sn = 0;
      for (let j = offsets[c] * 3; j < offsets[c + 1] * 3; j += 3) {
        sg += hist[j];
        sh += hist[j + 1];
        sn += hist[j + 2];
      }
      const z = zeroSlots[s] * 3;
      hist[z] += totals.g - sg;
      hist[z + 1] += totals.h - sh;
      hist[z + 2] += end - start - sn;
    }
  }
}
