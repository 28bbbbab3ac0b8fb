import type { ManifestFeature } from '../../core/manifest';
import { isMissing, type MissingCategory } from '../../core/data/schema';

/**
 * The category a missing value becomes under missingCategory 'own'. Real codes in the files we
 * read are words, letters or numbers; a parenthesised word is what a person would write for "no
 * value" and does not occur as data in practice. Should a column hold it as a real value, the
 * sentinel becomes "(missing-2)" (then -3, ...): the manifest records which one was used.
 */
export const MISSING_CATEGORY = '(missing)';

function sentinelFor(counts: ReadonlyMap<string, number>): string {
  let sentinel = MISSING_CATEGORY;
  for (let i = 2; counts.has(sentinel); i++) sentinel = `(missing-${i})`;
  return sentinel;
}

/** The commonest value; ties go to the smaller string, so the choice is deterministic. */
function mostFrequent(counts: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [value, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && value < best)) {
      best = value;
      bestCount = n;
    }
  }
  return best;
}

/**
 * A categorical feature's manifest entry from its fitting values: the categories seen (sorted),
 * and what a missing value becomes. With 'own' and at least one missing value among the fitting
 * rows, that is a category of its own, appended after the real ones (policy 'category');
 * otherwise the most frequent category (policy 'most_frequent'), which is also what a null sent
 * at inference becomes when training saw no missing value. The value is fed to the graph as a
 * string (core/features.ts), so the trainer and the ONNX OneHotEncoder see the same category.
 */
export function fitCategorical(
  name: string,
  input: string,
  values: readonly (string | undefined)[],
  missingCategory: MissingCategory,
): ManifestFeature {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === undefined || isMissing(v)) {
      missing++;
      continue;
    }
    const value = v.trim();
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  const categories = [...counts.keys()].sort();
  if (missingCategory === 'own' && missing > 0) {
    const sentinel = sentinelFor(counts);
    categories.push(sentinel);
    return { name, type: 'categorical', input, missing: { policy: 'category', value: sentinel }, categories };
  }
  const mode = mostFrequent(counts) ?? '';
  if (categories.length === 0) categories.push(mode);
  return { name, type: 'categorical', input, missing: { policy: 'most_frequent', value: mode }, categories };
}
