import { type CsrMatrix, toFloat32 } from '../matrix';
import { type BinnedColumns, binColumns } from './histogram';

/**
 * Views of an encoded matrix that every candidate of a grid would otherwise rebuild: the matrix a
 * grid fits on is the same object for every grid point (training/train.ts encodes each fold
 * once), so its bins and its dense float32 copy are computed once and live as long as it does.
 * Both are pure functions of the matrix, which no trainer modifies.
 */
const binned = new WeakMap<CsrMatrix, BinnedColumns>();
const dense = new WeakMap<CsrMatrix, Float32Array>();

/** binColumns(x) at the default bin count, computed once per matrix. */
export function binnedOf(x: CsrMatrix): BinnedColumns {
  let b = binned.get(x);
  if (!b) binned.set(x, (b = binColumns(x)));
  return b;
}

/** toFloat32(x), computed once per matrix. */
export function denseOf(x: CsrMatrix): Float32Array {
  let d = dense.get(x);
  if (!d) dense.set(x, (d = toFloat32(x)));
  return d;
}
