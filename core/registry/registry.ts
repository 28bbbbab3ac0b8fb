import type { ModelManifest } from '../manifest';
import { baselineProblems } from '../monitoring/baseline';
import { type ObjectStore, PreconditionFailedError } from '../object-store';
import { AliasError, AliasMovedError, moveAlias, readAlias } from './aliases';
import { HistoryLog, rollbackTarget, versionAt, withCurrent } from './history';
import {
  aliasesPrefix,
  aliasKey,
  isValidName,
  nameProblem,
  parseAliasKey,
  REGISTRY_PREFIX,
  versionKey,
  versionsPrefix,
  versionsWith,
} from './keys';
import { decodeAliasRecord, decodeManifest, encodeJson } from './records';
import { describeSchemaDiff, diffSchemas, schemasDiffer } from './schema-diff';
import {
  type AliasMove,
  type AliasRecord,
  DEFAULT_ALIAS,
  type ModelSource,
  type ModelValidator,
  type RegisteredVersion,
  RegistrationError,
  type SchemaChange,
  type SchemaChangeApproval,
  SchemaMismatchError,
  UnknownModelError,
  type VersionSummary,
} from './types';
import { sha256Hex } from '../hash';

export interface RegisterMeta {
  /** Who registers it: a user name, "pipeline:<execution>", "cli". */
  readonly actor: string;
  readonly reason?: string;
  /** The version this one was trained to replace (usually the champion at training time). */
  readonly parentVersion?: number;
  readonly pipelineExecution?: string;
  /**
   * Registers the version even if its features or classes differ from the champion's (else a
   * SchemaMismatchError); the change and this reason are recorded in registration.schemaChange.
   */
  readonly allowSchemaChange?: SchemaChangeApproval;
}

/**
 * Who registered a version, when and why; stored in its manifest.json next to the fields
 * ModelManifest declares (ModelManifest does not declare it yet).
 */
export interface Registration {
  readonly actor: string;
  readonly reason?: string;
  readonly registeredAt: string;
  /** Set when the version's schema differed from the champion's and that was allowed. */
  readonly schemaChange?: SchemaChange;
}

export type RegisteredManifest = ModelManifest & { readonly registration: Registration };

export interface AliasMoveRequest {
  /** @default 'champion' */
  readonly alias?: string;
  readonly actor: string;
  readonly reason: string;
  /**
   * Moves the alias even if the version's features or classes differ from the champion's (else a
   * SchemaMismatchError); the change and this reason are recorded on the move.
   */
  readonly allowSchemaChange?: SchemaChangeApproval;
  /**
   * Move only if the alias still points at this version (null: only if it is not set yet), checked
   * against the very record the conditional write replaces; else an AliasMovedError. A pipeline
   * run promotes only over the champion it compared its candidate with.
   * @default - move whatever the alias points at
   */
  readonly ifCurrentVersion?: number | null;
}

/**
 * Version numbers are claimed by writing model.onnx with If-None-Match:*, so writers racing for
 * one number each end up with their own; this bounds how many numbers one registration tries.
 */
const CLAIM_ATTEMPTS = 50;

/** How many problems an error names before "and N more". */
const LISTED_PROBLEMS = 10;
const listed = (problems: readonly string[]) =>
  problems.slice(0, LISTED_PROBLEMS).join('; ') +
  (problems.length > LISTED_PROBLEMS ? `; and ${problems.length - LISTED_PROBLEMS} more` : '');

/**
 * The model registry over an ObjectStore (S3): immutable numbered versions, aliases moved
 * atomically with conditional writes, and a history of every move. See types.ts for the layout.
 */
export class ModelRegistry implements ModelSource {
  private readonly log: HistoryLog;

  constructor(
    private readonly store: ObjectStore,
    private readonly validator: ModelValidator,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.log = new HistoryLog(store);
  }

  async listModels(): Promise<string[]> {
    return (await this.store.listPrefixes(REGISTRY_PREFIX)).filter(isValidName);
  }

  /** Complete versions (those with a manifest), oldest first, each with the aliases on it. */
  async listVersions(model: string): Promise<VersionSummary[]> {
    const versions = versionsWith(model, await this.versionKeys(model), 'manifest.json');
    if (versions.length === 0) throw new UnknownModelError(model);
    const [manifests, aliases] = await Promise.all([
      Promise.all(versions.map((v) => this.getManifest(model, v))),
      this.aliasRecords(model),
    ]);
    return manifests.map((m, i) => ({
      model,
      version: versions[i],
      algorithm: m.algorithm,
      createdAt: m.createdAt,
      sha256: m.sha256,
      metrics: { accuracy: m.metrics.holdout.accuracy, macroF1: m.metrics.holdout.macroF1 },
      aliases: aliases.filter((a) => a.version === versions[i]).map((a) => a.alias),
    }));
  }

  async getManifest(model: string, version: number): Promise<ModelManifest> {
    const key = versionKey(model, version, 'manifest.json');
    const object = isValidName(model) ? await this.store.get(key) : undefined;
    if (!object) throw await this.unknown(model, version);
    return decodeManifest(object.body, key);
  }

  async getModelBytes(model: string, version: number): Promise<Uint8Array> {
    const object = isValidName(model) ? await this.store.get(versionKey(model, version, 'model.onnx')) : undefined;
    if (!object) throw await this.unknown(model, version);
    return object.body;
  }

  async resolveAlias(
    model: string,
    alias: string,
    etag?: string,
  ): Promise<{ record: AliasRecord; etag: string } | 'unchanged' | undefined> {
    if (!isValidName(model) || !isValidName(alias)) return undefined;
    const key = aliasKey(model, alias);
    const object = etag === undefined ? await this.store.get(key) : await this.store.getIfChanged(key, etag);
    if (object === undefined || object === 'unchanged') return object;
    return { record: decodeAliasRecord(object.body, key), etag: object.etag };
  }

  /**
   * Validates the model, claims the next version number and stores it. Throws RegistrationError,
   * or SchemaMismatchError when its schema differs from the champion's (see RegisterMeta).
   */
  async register(
    model: string,
    onnx: Uint8Array,
    manifest: ModelManifest,
    meta: RegisterMeta,
  ): Promise<RegisteredVersion & { readonly manifest: RegisteredManifest }> {
    const problem = nameProblem('model', model);
    if (problem) throw new RegistrationError(problem);
    const actual = sha256Hex(onnx);
    if (manifest.sha256 !== actual) {
      throw new RegistrationError(
        `manifest.sha256 (${manifest.sha256}) is not the sha256 of model.onnx (${actual}): the manifest belongs to another model file`,
      );
    }
    // A manifest without a baseline (trained before baselines, or elsewhere) is accepted; the
    // monitoring job then reports its drift as "not judged". A malformed one would break the
    // drift tests on every run, so it is refused here, with every problem named.
    if (manifest.baseline !== undefined) {
      const problems = baselineProblems(manifest.baseline, manifest);
      if (problems.length > 0) throw new RegistrationError(`the manifest's baseline is malformed: ${listed(problems)}`);
    }
    if (meta.parentVersion !== undefined && !(await this.hasVersion(model, meta.parentVersion))) {
      throw new RegistrationError(`parent version ${meta.parentVersion} of model "${model}" does not exist`);
    }
    // Checked before a version number is claimed, so a refusal leaves nothing behind. The champion
    // can still move before the version is written; promote checks again against the one it replaces.
    const champion = (await readAlias(this.store, model, DEFAULT_ALIAS))?.record.version;
    const schemaChange =
      champion === undefined
        ? undefined
        : await this.checkSchema(model, undefined, manifest, champion, meta.allowSchemaChange);
    await this.validator.validate(onnx, manifest);
    const version = await this.claimVersion(model, onnx);
    // The registry's name for the model wins over the working name it was exported under.
    const stored: RegisteredManifest = {
      ...manifest,
      name: model,
      version,
      parentVersion: meta.parentVersion,
      pipelineExecution: meta.pipelineExecution,
      registration: {
        actor: meta.actor,
        reason: meta.reason,
        registeredAt: this.clock().toISOString(),
        ...(schemaChange ? { schemaChange } : {}),
      },
    };
    // Written last: the version is visible (listed, resolvable) only once this exists.
    await this.store.put(versionKey(model, version, 'manifest.json'), encodeJson(stored), {
      condition: { ifNoneMatch: '*' },
      contentType: 'application/json',
    });
    return { model, version, manifest: stored };
  }

  /**
   * Points the alias (champion by default) at the version; a no-op when it already does. Throws
   * SchemaMismatchError when the version's schema differs from the champion's (any alias: they
   * all serve the champion's clients), unless request.allowSchemaChange says why that is fine.
   */
  async promote(model: string, version: number, request: AliasMoveRequest): Promise<AliasRecord> {
    const alias = this.checkAlias(request.alias);
    if (!(await this.hasVersion(model, version))) throw await this.unknown(model, version);
    const manifest = await this.getManifest(model, version);
    return moveAlias(
      this.store,
      { model, alias },
      async (current) => {
        const now = current?.record.version ?? null;
        if (request.ifCurrentVersion !== undefined && now !== request.ifCurrentVersion && now !== version) {
          throw new AliasMovedError(alias, request.ifCurrentVersion, now);
        }
        if (current?.record.version === version) return 'stay';
        // Moving the champion: checked against the very record the conditional write replaces.
        const champion =
          alias === DEFAULT_ALIAS
            ? current?.record.version
            : (await readAlias(this.store, model, DEFAULT_ALIAS))?.record.version;
        const schemaChange =
          champion === undefined || champion === version
            ? undefined
            : await this.checkSchema(model, version, manifest, champion, request.allowSchemaChange);
        return { kind: 'promote', version, ...(schemaChange ? { schemaChange } : {}) };
      },
      request,
      this.clock,
    );
  }

  /**
   * Moves the alias back to the version that served before the current one, as the history
   * tells: rolling back again goes further back, it does not swap the last two versions.
   */
  async rollback(model: string, request: AliasMoveRequest): Promise<AliasRecord> {
    const alias = this.checkAlias(request.alias);
    if (!(await this.hasAnyVersion(model))) throw new UnknownModelError(model);
    return moveAlias(
      this.store,
      { model, alias },
      async (current) => {
        if (!current) throw new AliasError(`alias "${alias}" of model "${model}" is not set: nothing to roll back`);
        const target = rollbackTarget(withCurrent(await this.log.read(model, alias), current.record));
        if (target === undefined)
          throw new AliasError(`alias "${alias}" of model "${model}" has no earlier version to roll back to`);
        return { kind: 'rollback', version: target };
      },
      request,
      this.clock,
    );
  }

  /** Every alias move of the model (of one alias when given), oldest first. */
  async history(model: string, alias?: string): Promise<AliasMove[]> {
    const [moves, current] = await Promise.all([this.log.read(model, alias), this.aliasRecords(model)]);
    let all = moves;
    for (const record of current) if (alias === undefined || record.alias === alias) all = withCurrent(all, record);
    if (all.length === 0 && !(await this.hasAnyVersion(model))) throw new UnknownModelError(model);
    return all;
  }

  /** The version the alias pointed at at that time: "what served at time T" (undefined: unset). */
  async versionAt(model: string, at: Date, alias: string = DEFAULT_ALIAS): Promise<number | undefined> {
    return versionAt(await this.history(model, alias), at);
  }

  private async claimVersion(model: string, onnx: Uint8Array): Promise<number> {
    const latest = async () => versionsWith(model, await this.versionKeys(model), 'model.onnx').at(-1) ?? 0;
    let version = (await latest()) + 1;
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      try {
        await this.store.put(versionKey(model, version, 'model.onnx'), onnx, {
          condition: { ifNoneMatch: '*' },
          contentType: 'application/octet-stream',
        });
        return version;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        // Someone else took it; others may have taken more since the listing.
        version = Math.max(version + 1, (await latest()) + 1);
      }
    }
    throw new RegistrationError(
      `could not claim a version number for model "${model}" in ${CLAIM_ATTEMPTS} attempts: too many concurrent registrations`,
    );
  }

  /**
   * Compares the version's schema with the champion's: the same, undefined; different, the change
   * to record when it is allowed, else SchemaMismatchError. `version` is undefined while registering.
   */
  private async checkSchema(
    model: string,
    version: number | undefined,
    manifest: ModelManifest,
    championVersion: number,
    allow: SchemaChangeApproval | undefined,
  ): Promise<SchemaChange | undefined> {
    const diff = diffSchemas(manifest, await this.getManifest(model, championVersion));
    if (!schemasDiffer(diff)) return undefined;
    if (!allow) throw new SchemaMismatchError(model, version, championVersion, diff);
    return { championVersion, differences: describeSchemaDiff(diff), reason: allow.reason };
  }

  private checkAlias(alias: string = DEFAULT_ALIAS): string {
    const problem = nameProblem('alias', alias);
    if (problem) throw new AliasError(problem);
    return alias;
  }

  private async versionKeys(model: string): Promise<string[]> {
    return isValidName(model) ? this.store.list(versionsPrefix(model)) : [];
  }

  private async hasVersion(model: string, version: number): Promise<boolean> {
    return (
      Number.isInteger(version) &&
      version > 0 &&
      isValidName(model) &&
      (await this.store.get(versionKey(model, version, 'manifest.json'))) !== undefined
    );
  }

  private async hasAnyVersion(model: string): Promise<boolean> {
    return versionsWith(model, await this.versionKeys(model), 'manifest.json').length > 0;
  }

  /** The error for a missing version: the model is unknown altogether, or just this version. */
  private async unknown(model: string, version: number): Promise<UnknownModelError> {
    return (await this.hasAnyVersion(model)) ? new UnknownModelError(model, version) : new UnknownModelError(model);
  }

  private async aliasRecords(model: string): Promise<AliasRecord[]> {
    const keys = await this.store.list(aliasesPrefix(model));
    const aliases = keys.map((k) => parseAliasKey(model, k)).filter((a): a is string => a !== undefined);
    const records = await Promise.all(aliases.map((a) => readAlias(this.store, model, a)));
    return records.flatMap((r) => (r ? [r.record] : []));
  }
}
