import type { ManifestFeature } from './manifest';
import { maxOf } from './arrays';

/**
 * Turns feature values (from a JSON request or a data file) into the ONNX model's inputs, the
 * same way for training and for inference. Pure: the caller wraps the arrays in tensors.
 */

export type FeatureValue = number | string | null | undefined;

/**
 * A batch as columns: each feature's values in row order, all `count` long (a columnar request
 * body). Tensors are built from the columns directly: no object per row.
 */
export interface FeatureColumns {
  readonly count: number;
  readonly columns: Readonly<Record<string, readonly FeatureValue[]>>;
}

/** Rows (one object per instance) or columns (one array per feature). */
export type FeatureBatch = readonly Readonly<Record<string, FeatureValue>>[] | FeatureColumns;

const isColumns = (batch: FeatureBatch): batch is FeatureColumns => !Array.isArray(batch);

/** How many instances the batch holds. */
export const batchSize = (batch: FeatureBatch): number => (isColumns(batch) ? batch.count : batch.length);

/** The batch as one object per instance (for consumers that need rows: SageMaker, per-instance capture). */
export function rowsOf(batch: FeatureBatch): readonly Readonly<Record<string, FeatureValue>>[] {
  if (!isColumns(batch)) return batch;
  const names = Object.keys(batch.columns);
  return Array.from({ length: batch.count }, (_, i) => {
    const row: Record<string, FeatureValue> = Object.create(null) as Record<string, FeatureValue>;
    for (const name of names) row[name] = batch.columns[name][i];
    return row;
  });
}

export interface InputTensor {
  readonly dtype: 'float32' | 'string';
  readonly data: Float32Array | string[];
  readonly dims: number[];
}

export const TOKEN_PATTERN = '[\\p{L}\\p{N}_]+';
const TOKEN_REGEX = new RegExp(TOKEN_PATTERN, 'gu');

/** Lower-cased maximal runs of letters, digits and underscores (like scikit-learn's `\b\w+\b`). */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN_REGEX) ?? [];
}

function numericValue(value: FeatureValue): number {
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value === 'number') return value;
  const trimmed = value.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}

function categoricalValue(feature: ManifestFeature, value: FeatureValue): string {
  if (value === null || value === undefined) return String(feature.missing.value);
  const text = String(value).trim();
  return text === '' ? String(feature.missing.value) : text;
}

/**
 * One tensor per ONNX input: numeric -> float32 [N,1] (missing -> NaN, imputed in the graph);
 * numeric features that share an input (models exported elsewhere, e.g. skl2onnx's single
 * `float_input`) -> float32 [N,k] with columns in manifest order; categorical -> string [N,1]
 * (missing -> feature.missing.value: the commonest category, or a category of its own);
 * text -> string [N,T] of tokens padded with "" (T >= 1).
 */
export function toModelInputs(features: readonly ManifestFeature[], batch: FeatureBatch): Record<string, InputTensor> {
  const n = batchSize(batch);
  // One feature's values in row order: the column itself, or read from each row.
  const valuesOf: (name: string) => ArrayLike<FeatureValue> = isColumns(batch)
    ? (name) => batch.columns[name] ?? { length: n }
    : (name) => batch.map((r) => r[name]);
  const inputs: Record<string, InputTensor> = {};
  const numericGroups = new Map<string, ManifestFeature[]>();
  for (const feature of features) {
    if (feature.type === 'numeric') {
      numericGroups.set(feature.input, [...(numericGroups.get(feature.input) ?? []), feature]);
    } else if (feature.type === 'categorical') {
      const values = valuesOf(feature.name);
      inputs[feature.input] = {
        dtype: 'string',
        data: Array.from({ length: n }, (_, i) => categoricalValue(feature, values[i])),
        dims: [n, 1],
      };
    } else {
      const values = valuesOf(feature.name);
      const tokens = Array.from({ length: n }, (_, i) => tokenize(values[i] == null ? '' : String(values[i])));
      const width = Math.max(1, maxOf(tokens.map((t) => t.length)));
      const data: string[] = [];
      for (const row of tokens) for (let j = 0; j < width; j++) data.push(row[j] ?? '');
      inputs[feature.input] = { dtype: 'string', data, dims: [n, width] };
    }
  }
  for (const [input, group] of numericGroups) {
    const k = group.length;
    const data = new Float32Array(n * k);
    for (let j = 0; j < k; j++) {
      const values = valuesOf(group[j].name);
      for (let i = 0; i < n; i++) {
        const value = values[i];
        data[i * k + j] = typeof value === 'number' ? value : numericValue(value);
      }
    }
    inputs[input] = { dtype: 'float32', data, dims: [n, k] };
  }
  return inputs;
}
