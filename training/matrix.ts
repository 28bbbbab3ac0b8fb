/**
 * Feature matrices. Encoded features are rounded to float32 (what the ONNX graph computes in),
 * so a model trained here sees exactly the numbers onnxruntime will feed it.
 */

/** Compressed sparse rows: row r's entries are colIdx/values[rowPtr[r] .. rowPtr[r+1]). */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  readonly values: Float64Array;
}

/** Dense, row-major. */
export interface DenseMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function csrFromDense(m: DenseMatrix): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] !== 0) nnz++;
  const rowPtr = new Int32Array(m.rows + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let k = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const v = m.data[r * m.cols + c];
      if (v !== 0) {
        colIdx[k] = c;
        values[k++] = v;
      }
    }
    rowPtr[r + 1] = k;
  }
  return { rows: m.rows, cols: m.cols, rowPtr, colIdx, values };
}

export function denseFromCsr(m: CsrMatrix): DenseMatrix {
  const data = new Float64Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) data[r * m.cols + m.colIdx[k]] = m.values[k];
  }
  return { rows: m.rows, cols: m.cols, data };
}

/** The rows at `indices`, in that order. */
export function selectRows(m: CsrMatrix, indices: ArrayLike<number>): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < indices.length; i++) nnz += m.rowPtr[indices[i] + 1] - m.rowPtr[indices[i]];
  const rowPtr = new Int32Array(indices.length + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let k = 0;
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    for (let j = m.rowPtr[r]; j < m.rowPtr[r + 1]; j++) {
      colIdx[k] = m.colIdx[j];
      values[k++] = m.values[j];
    }
    rowPtr[i + 1] = k;
  }
  return { rows: indices.length, cols: m.cols, rowPtr, colIdx, values };
}

/** Float32 copy of the dense matrix, the layout onnxruntime takes as a [rows, cols] tensor. */
export function toFloat32(m: CsrMatrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) out[r * m.cols + m.colIdx[k]] = m.values[k];
  }
  return out;
}
