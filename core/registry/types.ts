import type { ModelManifest } from '../manifest';
import { describeSchemaDiff, differingParts, type SchemaDiff } from './schema-diff';

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
  /** Set when the move put a version whose schema differs from the champion's there (allowed
   * with allowSchemaChange). Absent in records written before the schema guard. */
  readonly schemaChange?: SchemaChange;
}

/**
 * A schema change someone accepted (allowSchemaChange): recorded on the alias move, or on the
 * registration of a version, that made it.
 */
export interface SchemaChange {
  /** The champion version the schema was compared with. */
  readonly championVersion: number;
  /** What differs, as describeSchemaDiff says it ("missing sepal_length (numeric); extra ..."). */
  readonly differences: string;
  /** Why the change was accepted. */
  readonly reason: string;
}

/** Accepts a version whose feature schema or classes differ from the champion's; the reason is recorded. */
export interface SchemaChangeApproval {
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
  resolveAlias(
    model: string,
    alias: string,
    etag?: string,
  ): Promise<{ record: AliasRecord; etag: string } | 'unchanged' | undefined>;
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

/** How many names of each kind of difference the error lists before "and N more". */
const LISTED_DIFFERENCES = 10;

/**
 * A version's feature schema (or classes) differs from the champion's, and no allowSchemaChange
 * was given: serving it would fail the champion's clients (see schema-diff.ts).
 */
export class SchemaMismatchError extends Error {
  override readonly name = 'SchemaMismatchError';

  constructor(
    readonly model: string,
    /** Undefined when registering (the version has no number yet). */
    readonly version: number | undefined,
    readonly championVersion: number,
    readonly diff: SchemaDiff,
  ) {
    const subject = version === undefined ? `the new ${model} version` : `${model} v${version}`;
    super(
      `${subject}'s ${differingParts(diff)} differ from champion v${championVersion}'s: ${describeSchemaDiff(diff, LISTED_DIFFERENCES)}`,
    );
  }
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
