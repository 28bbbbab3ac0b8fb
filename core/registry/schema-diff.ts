import type { FeatureType, ModelManifest } from '../manifest';

/**
 * What a client of a model relies on: the request fields it sends (feature names and types) and
 * the labels it gets back (the classes). The registry compares a version's schema with the
 * champion's before registering or promoting it, so that another model's version (say the
 * ai4i2020 model registered as iris) cannot silently take over and fail every request.
 *
 * Compared: feature names and types, and the set of class labels.
 * Not compared: the order of features or classes (requests are keyed by field name, answers by
 * label), a categorical feature's category list (a retrained model may see new categories; an
 * unseen one still encodes, as all zeros), numeric ranges, missing-value policies, ONNX inputs.
 *
 * The classes are compared because they are the other half of the request/response contract:
 * each prediction's `label` and its per-class probabilities are what clients read, so a version
 * whose label set differs (ai4i2020's "0"/"1" instead of iris species) breaks them just as
 * surely as a changed feature. A legitimately new class (one that first appears in retraining
 * data) goes through: the retraining pipeline registers with allowSchemaChange, and a person
 * can pass it too; either way the change is recorded.
 */

export interface FeatureSignature {
  readonly name: string;
  readonly type: FeatureType;
}

export interface RetypedFeature {
  readonly name: string;
  readonly type: FeatureType;
  readonly championType: FeatureType;
}

export interface SchemaDiff {
  /** Features the champion has and the version does not. */
  readonly missing: readonly FeatureSignature[];
  /** Features the version has and the champion does not. */
  readonly extra: readonly FeatureSignature[];
  /** Features both have, with another type. */
  readonly retyped: readonly RetypedFeature[];
  /** Class labels the champion predicts and the version does not. */
  readonly missingClasses: readonly string[];
  /** Class labels the version predicts and the champion does not. */
  readonly extraClasses: readonly string[];
}

/** The parts of a manifest the comparison reads. */
export type ModelSchema = Pick<ModelManifest, 'features' | 'classes'>;

/** How the version's schema differs from the champion's (every list empty: the same). */
export function diffSchemas(version: ModelSchema, champion: ModelSchema): SchemaDiff {
  const championTypes = new Map(champion.features.map((f) => [f.name, f.type]));
  const versionTypes = new Map(version.features.map((f) => [f.name, f.type]));
  const signature = (f: FeatureSignature): FeatureSignature => ({ name: f.name, type: f.type });
  const versionClasses = new Set(version.classes);
  const championClasses = new Set(champion.classes);
  return {
    missing: champion.features.filter((f) => !versionTypes.has(f.name)).map(signature),
    extra: version.features.filter((f) => !championTypes.has(f.name)).map(signature),
    retyped: version.features.flatMap((f) => {
      const championType = championTypes.get(f.name);
      return championType !== undefined && championType !== f.type
        ? [{ name: f.name, type: f.type, championType }]
        : [];
    }),
    missingClasses: champion.classes.filter((c) => !versionClasses.has(c)),
    extraClasses: version.classes.filter((c) => !championClasses.has(c)),
  };
}

export const featuresDiffer = (diff: SchemaDiff): boolean =>
  diff.missing.length + diff.extra.length + diff.retyped.length > 0;
export const classesDiffer = (diff: SchemaDiff): boolean => diff.missingClasses.length + diff.extraClasses.length > 0;
export const schemasDiffer = (diff: SchemaDiff): boolean => featuresDiffer(diff) || classesDiffer(diff);

/** "features", "classes" or "features and classes": what differs, for a sentence. */
export function differingParts(diff: SchemaDiff): string {
  const parts = [featuresDiffer(diff) ? 'features' : '', classesDiffer(diff) ? 'classes' : ''].filter(Boolean);
  return parts.join(' and ');
}

function list<T>(items: readonly T[], show: (item: T) => string, limit: number): string {
  const shown = items.slice(0, limit).map(show);
  return items.length > limit ? `${shown.join(', ')} and ${items.length - limit} more` : shown.join(', ');
}

/**
 * The differences in one line, e.g. "missing sepal_length (numeric); extra Type (categorical);
 * petal_width is categorical, champion has numeric; missing classes Iris-setosa; extra classes 0".
 * Each list is cut after `limit` items ("and 3 more"). Empty when the schemas are the same.
 */
export function describeSchemaDiff(diff: SchemaDiff, limit = Number.POSITIVE_INFINITY): string {
  const feature = (f: FeatureSignature) => `${f.name} (${f.type})`;
  const parts: string[] = [];
  if (diff.missing.length > 0) parts.push(`missing ${list(diff.missing, feature, limit)}`);
  if (diff.extra.length > 0) parts.push(`extra ${list(diff.extra, feature, limit)}`);
  if (diff.retyped.length > 0)
    parts.push(list(diff.retyped, (f) => `${f.name} is ${f.type}, champion has ${f.championType}`, limit));
  if (diff.missingClasses.length > 0) parts.push(`missing classes ${list(diff.missingClasses, String, limit)}`);
  if (diff.extraClasses.length > 0) parts.push(`extra classes ${list(diff.extraClasses, String, limit)}`);
  return parts.join('; ');
}
