import type { ModelManifest } from '../manifest';

/**
 * The model registry (MLflow-like semantics over S3; see docs/architecture.md):
 *
 *   registry/<model>/versions/<n>/model.onnx      immutable; written first, with If-None-Match:* (claims n)
 *   registry/<model>/versions/<n>/manifest.json   immutable; written last: a version exists once it is there
 *   registry/<model>/aliases/<alias>.json         AliasRecord; moved with If-Match (atomic, race-free)
 *   registry/<model>/history/<iso-time>-<alias>-<id>.json   AliasMove, one object per move (no append races)
 */

export const DEFAULT_ALIAS = 'champion';

export interface Actor {
  /** Who or what moved it: a user name, "pipeline:<execution>", "cli". */
  readonly actor: string;
  readonly reason: string;
}

export interface AliasRecord {
  readonly model: string;
  readonly alias: string;
  readonly version: number;
  /** The version the alias pointed at before this move (what rollback returns to). */
  readonly previousVersion?: number;
  readonly movedAt: string;
  readonly actor: string;
  readonly reason: string;
}

export interface AliasMove extends AliasRecord {
  readonly kind: 'promote' | 'rollback';
}

export interface VersionSummary {
  readonly model: string;
  readonly version: number;
  readonly algorithm: string;
  readonly createdAt: string;
  readonly sha256: string;
  readonly metrics: { readonly accuracy: number; readonly macroF1: number };
  readonly aliases: string[];
}

export interface RegisteredVersion {
  readonly model: string;
  readonly version: number;
  readonly manifest: ModelManifest;
}

/** What the inference handler needs from the registry (read-only, cheap to re-check). */
export interface ModelSource {
  /** The alias and its ETag; 'unchanged' when `etag` is given and still current; undefined when unset. */
  resolveAlias(model: string, alias: string, etag?: string): Promise<{ record: AliasRecord; etag: string } | 'unchanged' | undefined>;
  getManifest(model: string, version: number): Promise<ModelManifest>;
  getModelBytes(model: string, version: number): Promise<Uint8Array>;
  listModels(): Promise<string[]>;
  listVersions(model: string): Promise<VersionSummary[]>;
}

/** Checks that a model file and its manifest belong together and run (used before registering). */
export interface ModelValidator {
  /** Throws RegistrationError naming what is wrong. */
  validate(onnx: Uint8Array, manifest: ModelManifest): Promise<void>;
}

export class RegistrationError extends Error {
  override readonly name = 'RegistrationError';
}

export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';

  constructor(
    readonly model: string,
    readonly version?: number,
  ) {
    super(version === undefined ? `unknown model "${model}"` : `model "${model}" has no version ${version}`);
  }
}
