/**
 * Where the registry keeps things (the layout is documented in types.ts). Pure: every S3 key
 * the registry reads or writes is built and parsed here, so the layout lives in one place.
 */

export const REGISTRY_PREFIX = 'registry/';

export type VersionFile = 'model.onnx' | 'manifest.json';

/** Model and alias names: they become S3 key segments, URL paths and metric dimensions. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Why a name is refused, or undefined when it is fine. */
export function nameProblem(kind: 'model' | 'alias', name: string): string | undefined {
  if (isValidName(name)) return undefined;
  return `${kind} name "${name}" is not valid: use 1-64 lower-case letters, digits, "-" or "_", starting with a letter or digit`;
}

export const modelPrefix = (model: string) => `${REGISTRY_PREFIX}${model}/`;
export const versionsPrefix = (model: string) => `${modelPrefix(model)}versions/`;
export const versionKey = (model: string, version: number, file: VersionFile) =>
  `${versionsPrefix(model)}${version}/${file}`;
export const aliasesPrefix = (model: string) => `${modelPrefix(model)}aliases/`;
export const aliasKey = (model: string, alias: string) => `${aliasesPrefix(model)}${alias}.json`;
export const historyPrefix = (model: string) => `${modelPrefix(model)}history/`;

/**
 * One object per alias move, named so that a listing comes back in time order. The id keeps
 * two moves in the same millisecond (on different aliases) from overwriting each other.
 */
export const historyKey = (model: string, movedAt: string, alias: string, id: string) =>
  `${historyPrefix(model)}${movedAt}-${alias}-${id}.json`;

/** The version and file a key under versions/ names, or undefined for anything else. */
export function parseVersionKey(model: string, key: string): { version: number; file: VersionFile } | undefined {
  const prefix = versionsPrefix(model);
  if (!key.startsWith(prefix)) return undefined;
  const match = /^([1-9][0-9]*)\/(model\.onnx|manifest\.json)$/.exec(key.slice(prefix.length));
  if (!match) return undefined;
  return { version: Number(match[1]), file: match[2] as VersionFile };
}

/** The alias an aliases/<alias>.json key names, or undefined for anything else. */
export function parseAliasKey(model: string, key: string): string | undefined {
  const prefix = aliasesPrefix(model);
  if (!key.startsWith(prefix) || !key.endsWith('.json')) return undefined;
  const alias = key.slice(prefix.length, -'.json'.length);
  return isValidName(alias) ? alias : undefined;
}

/** Version numbers whose file is present among the keys, ascending. */
export function versionsWith(model: string, keys: readonly string[], file: VersionFile): number[] {
  const versions = new Set<number>();
  for (const key of keys) {
    const parsed = parseVersionKey(model, key);
    if (parsed?.file === file) versions.add(parsed.version);
  }
  return [...versions].sort((a, b) => a - b);
}
