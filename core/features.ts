import type { ManifestFeature } from './manifest';
import { maxOf } from './arrays';

/**
 * Turns feature values (from a JSON request or a data file) into the ONNX model's inputs, the
 * same way for training and for inference. Pure: the caller wraps the arrays in tensors.
 */

export type FeatureValue = number | string | null | undefined;

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
export function toModelInputs(
  features: readonly ManifestFeature[],
  rows: readonly Readonly<Record<string, FeatureValue>>[],
): Record<string, InputTensor> {
  const n = rows.length;
  const inputs: Record<string, InputTensor> = {};
  const numericGroups = new Map<string, ManifestFeature[]>();
  for (const feature of features) {
    if (feature.type === 'numeric') {
      numericGroups.set(feature.input, [...(numericGroups.get(feature.input) ?? []), feature]);
    } else if (feature.type === 'categorical') {
      inputs[feature.input] = {
        dtype: 'string',
        data: rows.map((r) => categoricalValue(feature, r[feature.name])),
        dims: [n, 1],
      };
    } else {
      const tokens = rows.map((r) => tokenize(r[feature.name] == null ? '' : String(r[feature.name])));
      const width = Math.max(1, maxOf(tokens.map((t) => t.length)));
      const data: string[] = [];
      for (const row of tokens) for (let j = 0; j < width; j++) data.push(row[j] ?? '');
      inputs[feature.input] = { dtype: 'string', data, dims: [n, width] };
    }
  }
  for (const [input, group] of numericGroups) {
    const k = group.length;
    const data = new Float32Array(n * k);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) data[i * k + j] = numericValue(rows[i][group[j].name]);
    inputs[input] = { dtype: 'float32', data, dims: [n, k] };
  }
  return inputs;
}
