import type { BinnedColumns } from './histogram';
import { LEAF_ROWS_WASM } from './kernels/leaf-rows-wasm';

const PAGE = 65536;

interface Kernels {
  histogram(
    order: number,
    start: number,
    end: number,
    g: number,
    h: number,
    packed: number,
    width: number,
    base: number,
    hist: number,
  ): void;
  partition(
    order: number,
    scratch: number,
    start: number,
    end: number,
    packed: number,
    width: number,
    p: number,
    bin: number,
  ): number;
}

let compiled: WebAssembly.Module | undefined;

/** kernels/leaf-rows.wat, compiled once per process. */
function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(LEAF_ROWS_WASM, 'base64'));
  return compiled;
}

/** Rounds a byte count up to a multiple of 8, so every region can hold f64s. */
const align8 = (bytes: number): number => Math.ceil(bytes / 8) * 8;

/**
 * The training rows in the order a growing tree's leaves hold them (a leaf's rows are
 * order[start, end)), their gradients, and the histograms built over them, in one WebAssembly
 * memory that the two hot loops (kernels/leaf-rows.wat) run over. WebAssembly because those
 * loops are where boosting spends its time and V8 runs them 2.4x faster compiled from wasm
 * than from the same loop in JavaScript (bounds checks and typed-array loads per entry).
 *
 * Partitions are stable, so a leaf's rows stay in ascending row order and its histogram reads the
 * packed bins front to back, skipping other leaves' rows; only row ids move (4 bytes a row).
 * Histograms are handles (byte offsets into the memory): `histogramView` reads one.
 */
export class LeafRows {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: Kernels;
  private readonly rows: number;
  private readonly width: number;
  /** Column -> its position in a packed row, or -1 for a sparse column. */
  private readonly packedPosition: Int32Array;
  /** f64 slots per histogram: [sum g, sum h, count] for every bin of every column. */
  readonly histogramLength: number;
  private readonly at: { order: number; scratch: number; g: number; h: number; packed: number; base: number };
  /** Where the next new histogram goes; histograms are never freed, the grower pools them. */
  private next: number;
  private views?: { buffer: ArrayBuffer; order: Int32Array; g: Float64Array; h: Float64Array };

  /** `blocks` gradient blocks of `binned.rows` each (one per class a tree is grown for). */
  constructor(
    private readonly binned: BinnedColumns,
    blocks: number,
  ) {
    const { rows, cols, packedCols, offsets } = binned;
    this.rows = rows;
    this.width = packedCols.length;
    this.packedPosition = new Int32Array(cols).fill(-1);
    packedCols.forEach((c, p) => (this.packedPosition[c] = p));
    this.histogramLength = offsets[cols] * 3;
    const sizes = {
      order: 4 * rows,
      scratch: 4 * rows,
      g: 8 * rows * blocks,
      h: 8 * rows * blocks,
      packed: rows * this.width,
      base: 4 * this.width,
    };
    let end = 0;
    const at = { order: 0, scratch: 0, g: 0, h: 0, packed: 0, base: 0 };
    for (const key of Object.keys(sizes) as (keyof typeof sizes)[]) {
      at[key] = end;
      end += align8(sizes[key]);
    }
    this.at = at;
    this.next = end;
    // Room for the histograms a 31-leaf tree holds at once; more pages come as they are needed.
    const bytes = end + 33 * 8 * this.histogramLength;
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE), maximum: 65536 });
    this.kernels = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } })
      .exports as unknown as Kernels;
    new Uint8Array(this.memory.buffer, at.packed, sizes.packed).set(binned.packed);
    new Int32Array(this.memory.buffer, at.base, this.width).set(Int32Array.from(packedCols, (c) => offsets[c] * 3));
  }

  /** The row ids in leaf order. Valid until the next `newHistogram` (which may grow the memory). */
  get order(): Int32Array {
    return this.current().order;
  }

  /** Gradients to fill, [block * rows + row]; valid until the next `newHistogram`. */
  get g(): Float64Array {
    return this.current().g;
  }

  get h(): Float64Array {
    return this.current().h;
  }

  private current(): { order: Int32Array; g: Float64Array; h: Float64Array } {
    const buffer = this.memory.buffer;
    if (this.views?.buffer !== buffer) {
      const { rows, at } = this;
      const length = (at.h - at.g) / 8;
      this.views = {
        buffer,
        order: new Int32Array(buffer, at.order, rows),
        g: new Float64Array(buffer, at.g, length),
        h: new Float64Array(buffer, at.h, length),
      };
    }
    return this.views;
  }

  /** A handle to a new (zeroed) histogram. */
  newHistogram(): number {
    const bytes = 8 * this.histogramLength;
    const shortBy = this.next + bytes - this.memory.buffer.byteLength;
    if (shortBy > 0) this.memory.grow(Math.ceil(shortBy / PAGE));
    const handle = this.next;
    this.next += bytes;
    return handle;
  }

  /** The histogram behind a handle, valid until the next `newHistogram`. */
  histogramView(handle: number): Float64Array {
    return new Float64Array(this.memory.buffer, handle, this.histogramLength);
  }

  /** All rows in row order again: a new tree's root. */
  reset(): void {
    const order = this.order;
    for (let i = 0; i < order.length; i++) order[i] = i;
  }

  /**
   * Stable partition of rows [start, end) by column `feature`: rows in bins <= `bin` first.
   * Returns where the right part starts.
   */
  partition(start: number, end: number, feature: number, bin: number): number {
    const p = this.packedPosition[feature];
    const { at, width } = this;
    if (p >= 0) return this.kernels.partition(at.order, at.scratch, start, end, at.packed, width, p, bin);
    // A sparse column: its bins are in the column-major block (rare; splits favour dense columns).
    const { rows, bins } = this.binned;
    const order = this.order;
    const right: number[] = [];
    let left = start;
    for (let i = start; i < end; i++) {
      const r = order[i];
      if (bins[feature * rows + r] <= bin) order[left++] = r;
      else right.push(r);
    }
    order.set(right, left);
    return left;
  }

  /**
   * Fills histogram `handle` with [sum g, sum h, count] per bin (global bin index, so a one-hot
   * column takes 2 slots, not 255) over rows [start, end), reading g/h[offset + row]. A sparse
   * column's absent (zero) entries get what is left of `totals`, the rows' sums.
   */
  histogram(start: number, end: number, offset: number, totals: { g: number; h: number }, handle: number): void {
    const { at, width } = this;
    const hist = this.histogramView(handle);
    hist.fill(0);
    this.kernels.histogram(
      at.order,
      start,
      end,
      at.g + 8 * offset,
      at.h + 8 * offset,
      at.packed,
      width,
      at.base,
      handle,
    );
    if (this.binned.sparseCols.length > 0) this.sparseHistogram(start, end, offset, totals, hist);
  }

  private sparseHistogram(
    start: number,
    end: number,
    offset: number,
    totals: { g: number; h: number },
    hist: Float64Array,
  ): void {
    const { sparseCols, offsets, rowPtr, slots, zeroSlots } = this.binned;
    const { order, g, h } = this.current();
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
