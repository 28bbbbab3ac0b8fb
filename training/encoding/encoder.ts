import { type FeatureValue, type InputTensor, toModelInputs, tokenize, TOKEN_PATTERN } from '../../core/features';
import type { ManifestFeature, ManifestInput } from '../../core/manifest';
import type { EncodedColumn } from '../algorithms/types';
import {
  type AnyTable,
  asTyped,
  cellMissing,
  cellRaw,
  cellText,
  type Column,
  type ColumnarTable,
  columnarFromRows,
} from '../../core/data/columns';
import type { RawTable } from '../../core/data/load';
import { DEFAULT_MISSING_CATEGORY, isMissing, type MissingCategory, type Schema } from '../../core/data/schema';
import type { CsrMatrix } from '../matrix';
import { FLOAT, type GraphBuilder, ML_DOMAIN, STRING } from '../onnx/graph-builder';
import { fitCategorical } from './categorical';
import { TextVectorizer } from './text-vectorizer';

interface NumericState {
  readonly mean: number;
  readonly scale: number;
}

/**
 * The fitted preprocessing: request/file values -> one encoded float32 row. Numeric features are
 * mean-imputed and standardised, categorical ones one-hot encoded (unseen -> all zeros; missing
 * -> a category of its own or the commonest one, see categorical.ts), text TF-IDF encoded.
 * `transform` and `toOnnx` are two renderings of the same arithmetic.
 */
export class FittedEncoder {
  readonly columns: readonly EncodedColumn[];

  private constructor(
    readonly features: readonly ManifestFeature[],
    private readonly numeric: ReadonlyMap<string, NumericState>,
    private readonly text: ReadonlyMap<string, TextVectorizer>,
  ) {
    const columns: EncodedColumn[] = [];
    for (const f of this.numericFeatures()) columns.push({ kind: 'numeric', feature: f.name });
    for (const f of this.categoricalFeatures())
      for (let k = 0; k < (f.categories as string[]).length; k++) columns.push({ kind: 'onehot', feature: f.name });
    for (const f of this.textFeatures())
      for (let k = 0; k < (this.text.get(f.name) as TextVectorizer).size; k++)
        columns.push({ kind: 'text', feature: f.name });
    this.columns = columns;
  }

  /**
   * Learns imputation values, scaling, categories and vocabularies from the given rows only.
   * Missing categorical values are encoded as `options.missingCategory`, else the schema's, else
   * DEFAULT_MISSING_CATEGORY (see MissingCategory in data/schema.ts).
   */
  static fit(
    table: RawTable,
    schema: Schema,
    rows: ArrayLike<number>,
    options: { readonly missingCategory?: MissingCategory } = {},
  ): FittedEncoder {
    return FittedEncoder.fitColumns(columnarFromRows(table.columns, table.rows), schema, rows, options);
  }

  /** As `fit`, from typed columns (core/data/columns.ts): no string is made for a numeric cell. */
  static fitColumns(
    table: ColumnarTable,
    schema: Schema,
    rows: ArrayLike<number>,
    options: { readonly missingCategory?: MissingCategory } = {},
  ): FittedEncoder {
    const missingCategory = options.missingCategory ?? schema.missingCategory ?? DEFAULT_MISSING_CATEGORY;
    const used = new Set<string>();
    const inputName = (name: string) => {
      const base =
        name
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '_')
          .replace(/^_+|_+$/g, '') || 'feature';
      let candidate = base;
      for (let i = 2; used.has(candidate); i++) candidate = `${base}_${i}`;
      used.add(candidate);
      return candidate;
    };
    const numeric = new Map<string, NumericState>();
    const text = new Map<string, TextVectorizer>();
    const features: ManifestFeature[] = schema.features.map((f) => {
      const column = columnOf(table, f.name);
      const input = inputName(f.name);
      if (f.type === 'numeric') {
        // float32 values of the present cells, summed in row order (as the graph's inputs are float32).
        // A missing cell is NaN (a numeric column's own NaN, or numberValues' for a dictionary one).
        const numbers = numberValues(column);
        let count = 0;
        let sum = 0;
        for (let i = 0; i < rows.length; i++) {
          const value = numbers(rows[i]);
          if (Number.isNaN(value)) continue;
          count++;
          sum += Math.fround(value);
        }
        const mean = Math.fround(count ? sum / count : 0);
        let squares = 0;
        const range = { min: count ? Infinity : 0, max: count ? -Infinity : 0 };
        for (let i = 0; i < rows.length; i++) {
          const value = numbers(rows[i]);
          if (Number.isNaN(value)) continue;
          const x = Math.fround(value);
          squares += (x - mean) ** 2;
          if (x < range.min) range.min = x;
          if (x > range.max) range.max = x;
        }
        const std = Math.sqrt(count ? squares / count : 0);
        numeric.set(f.name, { mean, scale: Math.fround(std > 1e-12 ? 1 / std : 1) });
        return { name: f.name, type: 'numeric', input, missing: { policy: 'mean', value: mean }, range };
      }
      if (f.type === 'categorical') return fitCategorical(f.name, input, cellsOf(column, rows), missingCategory);
      const values = Array.from({ length: rows.length }, (_, i) => cellRaw(column, rows[i]));
      text.set(f.name, TextVectorizer.fit(values.map((v) => (isMissing(v) ? [] : tokenize(v)))));
      return {
        name: f.name,
        type: 'text',
        input,
        missing: { policy: 'empty', value: '' },
        tokenizer: { lowercase: true, pattern: TOKEN_PATTERN, ngrams: [1, 2] },
      };
    });
    return new FittedEncoder(features, numeric, text);
  }

  /** The ONNX inputs, as the manifest records them. */
  inputs(): ManifestInput[] {
    return this.features.map((f) => ({
      name: f.input,
      feature: f.name,
      dtype: f.type === 'numeric' ? 'float32' : 'string',
      shape: f.type === 'text' ? [-1, -1] : [-1, 1],
    }));
  }

  /**
   * Rows of a data file as model inputs, as a request would send them: missing tokens become
   * missing values, a numeric cell its number, a categorical one its text; a text feature gets
   * the cell as written (a missing token is text too).
   */
  tableInputs(table: AnyTable, rows: ArrayLike<number>): Record<string, InputTensor> {
    const typed = asTyped(table);
    const columns: Record<string, FeatureValue[]> = {};
    for (const f of this.features) {
      const column = columnOf(typed, f.name);
      columns[f.name] = Array.from({ length: rows.length }, (_, i): FeatureValue => {
        const r = rows[i];
        if (f.type === 'text') return cellRaw(column, r);
        if (cellMissing(column, r)) return null;
        return f.type === 'numeric' && column.kind === 'numeric' ? column.values[r] : cellText(column, r);
      });
    }
    return toModelInputs(this.features, { count: rows.length, columns });
  }

  /** The encoded rows, computed in the same float32 steps as the exported graph. */
  transform(inputs: Record<string, InputTensor>): CsrMatrix {
    const n = inputs[this.features[0].input].dims[0];
    const rowPtr = new Int32Array(n + 1);
    const colIdx: number[] = [];
    const values: number[] = [];
    const numeric = this.numericFeatures();
    const categorical = this.categoricalFeatures();
    const texts = this.textFeatures();
    const categoryIndex = categorical.map((f) => new Map((f.categories as string[]).map((c, k) => [c, k])));
    for (let r = 0; r < n; r++) {
      let offset = 0;
      numeric.forEach((f, j) => {
        const { mean, scale } = this.numeric.get(f.name) as NumericState;
        const raw = (inputs[f.input].data as Float32Array)[r];
        const x = Number.isNaN(raw) ? mean : raw;
        const v = Math.fround(Math.fround(x - mean) * scale);
        if (v !== 0) {
          colIdx.push(offset + j);
          values.push(v);
        }
      });
      offset += numeric.length;
      categorical.forEach((f, j) => {
        const k = categoryIndex[j].get((inputs[f.input].data as string[])[r]);
        if (k !== undefined) {
          colIdx.push(offset + k);
          values.push(1);
        }
        offset += (f.categories as string[]).length;
      });
      for (const f of texts) {
        const vectorizer = this.text.get(f.name) as TextVectorizer;
        const width = inputs[f.input].dims[1];
        const row = vectorizer.encodeRow(inputs[f.input].data, r * width, width);
        for (let k = 0; k < row.cols.length; k++) {
          colIdx.push(offset + row.cols[k]);
          values.push(row.values[k]);
        }
        offset += vectorizer.size;
      }
      rowPtr[r + 1] = colIdx.length;
    }
    return {
      rows: n,
      cols: this.columns.length,
      rowPtr,
      colIdx: Int32Array.from(colIdx),
      values: Float64Array.from(values),
    };
  }

  /**
   * The encoded `rows` of typed columns: equal to `transform(tableInputs(...))` of the same rows
   * (the same float32 steps), without a string or an object per cell, into arrays sized up front.
   */
  transformColumns(table: ColumnarTable, rows: ArrayLike<number>): CsrMatrix {
    const n = rows.length;
    const numeric = this.numericFeatures();
    const categorical = this.categoricalFeatures();
    const texts = this.textFeatures();
    const out = new CsrBuilder(n, n * (numeric.length + categorical.length) + (texts.length > 0 ? n * 8 : 0));
    const numbers = numeric.map((f) => ({
      number: numberValues(columnOf(table, f.name)),
      state: this.numeric.get(f.name) as NumericState,
    }));
    const categories = categorical.map((f) => categoryReader(columnOf(table, f.name), f));
    const tokens = texts.map((f) => {
      const column = columnOf(table, f.name);
      const values = Array.from({ length: n }, (_, i) => cellRaw(column, rows[i]));
      return toModelInputs([f], { count: n, columns: { [f.name]: values } })[f.input];
    });
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      let offset = 0;
      for (let j = 0; j < numbers.length; j++) {
        const { number, state } = numbers[j];
        const raw = Math.fround(number(r));
        const x = Number.isNaN(raw) ? state.mean : raw;
        const v = Math.fround(Math.fround(x - state.mean) * state.scale);
        if (v !== 0) out.push(offset + j, v);
      }
      offset += numbers.length;
      for (let j = 0; j < categories.length; j++) {
        const k = categories[j].category(r);
        if (k >= 0) out.push(offset + k, 1);
        offset += categories[j].width;
      }
      for (let j = 0; j < texts.length; j++) {
        const vectorizer = this.text.get(texts[j].name) as TextVectorizer;
        const width = tokens[j].dims[1];
        const row = vectorizer.encodeRow(tokens[j].data, i * width, width);
        for (let k = 0; k < row.cols.length; k++) out.push(offset + row.cols[k], row.values[k]);
        offset += vectorizer.size;
      }
      out.endRow(i);
    }
    return out.build(this.columns.length);
  }

  /** Declares the graph inputs and the preprocessing nodes; returns the [N, D] float tensor. */
  toOnnx(graph: GraphBuilder): string {
    const blocks: string[] = [];
    const numeric = this.numericFeatures();
    if (numeric.length > 0) {
      const columns = numeric.map((f) => graph.input(f.input, FLOAT, ['N', 1]));
      const stats = numeric.map((f) => this.numeric.get(f.name) as NumericState);
      const joined = columns.length === 1 ? columns[0] : graph.op('Concat', columns, { axis: 1 });
      const imputed = graph.op(
        'Imputer',
        [joined],
        { imputed_value_floats: { floats: stats.map((s) => s.mean) }, replaced_value_float: Number.NaN },
        ML_DOMAIN,
      );
      const centred = graph.op('Sub', [
        imputed,
        graph.floats(
          'mean',
          stats.map((s) => s.mean),
          [numeric.length],
        ),
      ]);
      blocks.push(
        graph.op('Mul', [
          centred,
          graph.floats(
            'scale',
            stats.map((s) => s.scale),
            [numeric.length],
          ),
        ]),
      );
    }
    for (const f of this.categoricalFeatures()) {
      const input = graph.input(f.input, STRING, ['N', 1]);
      const onehot = graph.op(
        'OneHotEncoder',
        [input],
        { cats_strings: [...(f.categories as string[])], zeros: 1 },
        ML_DOMAIN,
      );
      blocks.push(graph.op('Flatten', [onehot], { axis: 1 }));
    }
    for (const f of this.textFeatures()) {
      const input = graph.input(f.input, STRING, ['N', 'T_' + f.input]);
      blocks.push((this.text.get(f.name) as TextVectorizer).toOnnx(graph, input));
    }
    return blocks.length === 1 ? blocks[0] : graph.op('Concat', blocks, { axis: 1 });
  }

  private numericFeatures() {
    return this.features.filter((f) => f.type === 'numeric');
  }

  private categoricalFeatures() {
    return this.features.filter((f) => f.type === 'categorical');
  }

  private textFeatures() {
    return this.features.filter((f) => f.type === 'text');
  }
}

function columnOf(table: ColumnarTable, name: string): Column {
  const c = table.columns.indexOf(name);
  if (c < 0) throw new Error(`feature "${name}" is not a column of the data (columns: ${table.columns.join(', ')})`);
  return table.data[c];
}

/**
 * A cell as a number: Number() of its text, as core/features.ts reads a numeric value, and NaN
 * when missing (a numeric column's NaN is its missing cell).
 */
function numberValues(column: Column): (row: number) => number {
  if (column.kind === 'numeric') {
    const values = column.values;
    return (row) => values[row];
  }
  const numbers = column.dictionary.map((v, code) =>
    column.missing[code] || v.trim() === '' ? Number.NaN : Number(v.trim()),
  );
  return (row) => numbers[column.codes[row]];
}

/**
 * The cells of `rows` as fitCategorical reads them. A dictionary column's entries are repeated
 * by reference (no string is made per cell).
 */
function cellsOf(column: Column, rows: ArrayLike<number>): string[] {
  if (column.kind === 'numeric') return Array.from({ length: rows.length }, (_, i) => cellRaw(column, rows[i]));
  const { codes, dictionary } = column;
  const cells = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) cells[i] = dictionary[codes[rows[i]]];
  return cells;
}

/** A cell's one-hot index (-1: unseen), looked up once per dictionary entry. */
function categoryReader(column: Column, f: ManifestFeature): { width: number; category: (row: number) => number } {
  const categories = f.categories as string[];
  const index = new Map(categories.map((c, k) => [c, k]));
  const missing = index.get(String(f.missing.value)) ?? -1;
  const width = categories.length;
  if (column.kind === 'numeric') {
    return {
      width,
      category: (row) => (cellMissing(column, row) ? missing : (index.get(cellText(column, row)) ?? -1)),
    };
  }
  const byCode = Int32Array.from(column.dictionary, (v, code) =>
    column.missing[code] || v.trim() === '' ? missing : (index.get(v.trim()) ?? -1),
  );
  return { width, category: (row) => byCode[column.codes[row]] };
}

/** CSR arrays filled row by row, grown by doubling when an estimate of the entries falls short. */
class CsrBuilder {
  private colIdx: Int32Array;
  private values: Float64Array;
  private size = 0;
  private readonly rowPtr: Int32Array;

  constructor(
    private readonly rows: number,
    capacity: number,
  ) {
    this.rowPtr = new Int32Array(rows + 1);
    this.colIdx = new Int32Array(Math.max(16, capacity));
    this.values = new Float64Array(Math.max(16, capacity));
  }

  push(col: number, value: number): void {
    if (this.size === this.colIdx.length) {
      const colIdx = new Int32Array(this.size * 2);
      colIdx.set(this.colIdx);
      this.colIdx = colIdx;
      const values = new Float64Array(this.size * 2);
      values.set(this.values);
      this.values = values;
    }
    this.colIdx[this.size] = col;
    this.values[this.size++] = value;
  }

  endRow(row: number): void {
    this.rowPtr[row + 1] = this.size;
  }

  build(cols: number): CsrMatrix {
    return {
      rows: this.rows,
      cols,
      rowPtr: this.rowPtr,
      colIdx: this.colIdx.slice(0, this.size),
      values: this.values.slice(0, this.size),
    };
  }
}
