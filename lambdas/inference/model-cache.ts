import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelManifest } from '../../core/manifest';
import { isValidName } from '../../core/registry/keys';
import { CorruptRecordError, decodeManifest } from '../../core/registry/records';
import { DEFAULT_ALIAS, type ModelSource, UnknownModelError } from '../../core/registry/types';
import { type ModelBackend, ModelLoadError, type Predictor } from './backends/types';
import { type AppLog, elapsedMs, INFERENCE_METRICS, type MetricsRecorder } from './metrics';
import { sha256Hex } from '../../core/hash';

/**
 * The models this function serves, one open predictor per model. The `champion` alias is
 * resolved at first use and re-checked after a TTL with a conditional GET (unchanged alias = a
 * 304, no download). A new version is fetched, its sha256 checked against the manifest, and
 * opened; if that fails it is refused (logged, ModelLoadFailures) and the last good version keeps
 * serving; the refused version is not retried until the alias moves again. When the registry is
 * unreachable and nothing is loaded yet, a model bundled with the function is the last resort.
 * Concurrent requests share one refresh, so a version is never loaded twice.
 *
 * Versions a routing document names (canary, shadow) are loaded by number through the same path
 * (`version`) and kept until `retainVersions` lets them go; a canary promoted to champion is not
 * loaded again.
 */

export interface LoadedModel {
  readonly name: string;
  readonly version: number;
  readonly manifest: ModelManifest;
  readonly predictor: Predictor;
  readonly backend: ModelBackend['kind'];
  /** 'bundled': the copy shipped with the function, served because the registry was unreachable. */
  readonly origin: 'registry' | 'bundled';
  readonly loadedAt: string;
}

/** The model exists (or may) but no version of it can be served right now (503). */
export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';

  constructor(
    readonly model: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`model "${model}" is unavailable: ${reason}`, options);
  }
}

export interface ModelCacheOptions {
  readonly source: ModelSource;
  /** The backend that serves the model (onnxruntime unless configured otherwise). */
  readonly backendFor: (model: string) => ModelBackend;
  /** How long a resolved alias is trusted before it is re-checked. */
  readonly ttlMs: number;
  /** Folder of <model>/{model.onnx,manifest.json}: the last resort when the registry is unreachable. */
  readonly bundledModelsDir?: string;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** @default DEFAULT_ALIAS ('champion') */
  readonly alias?: string;
  /** @default performance.now */
  readonly now?: () => number;
}

interface Entry {
  current?: LoadedModel;
  /** ETag of the alias record last acted on (loaded or refused): a 304 means nothing to do. */
  aliasEtag?: string;
  checkedAt: number;
  /** When nothing can be served: why, until the next check. */
  failure?: Error;
  pending?: Promise<LoadedModel>;
}

/** A version loaded by number (canary, shadow). */
interface VersionSlot {
  loaded?: LoadedModel;
  failure?: ModelUnavailableError;
  failedAt?: number;
  /** The version can never serve (versions are immutable): not fetched again while it is retained. */
  permanent?: boolean;
  pending?: Promise<LoadedModel>;
}

/** After a failure with nothing to serve, retry sooner than the TTL (a blip should not cost a minute). */
const FAILURE_RETRY_MS = 5000;

/** A version that can never serve: retrying it before the alias moves would fail the same way. */
const isPermanent = (error: unknown) =>
  error instanceof ModelLoadError || error instanceof CorruptRecordError || error instanceof UnknownModelError;

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  /** Model -> version -> slot, for the versions routing documents name. */
  private readonly versions = new Map<string, Map<number, VersionSlot>>();
  private readonly alias: string;
  private readonly now: () => number;

  constructor(private readonly options: ModelCacheOptions) {
    this.alias = options.alias ?? DEFAULT_ALIAS;
    this.now = options.now ?? (() => performance.now());
  }

  /** The model to serve; throws UnknownModelError (no such model) or ModelUnavailableError. */
  async get(model: string): Promise<LoadedModel> {
    if (!isValidName(model)) throw new UnknownModelError(model);
    let entry = this.entries.get(model);
    if (!entry) {
      entry = { checkedAt: Number.NEGATIVE_INFINITY };
      this.entries.set(model, entry);
    }
    const age = this.now() - entry.checkedAt;
    if (entry.current && age < this.options.ttlMs) return entry.current;
    if (!entry.current && entry.failure && age < Math.min(this.options.ttlMs, FAILURE_RETRY_MS)) throw entry.failure;
    if (!entry.pending) {
      const settled = entry;
      settled.pending = this.refresh(model, settled).finally(() => {
        settled.pending = undefined;
      });
    }
    return entry.pending as Promise<LoadedModel>;
  }

  /** The model to serve, re-checking its alias now instead of after the TTL (a conditional GET: a 304 costs no download). */
  async recheck(model: string): Promise<LoadedModel> {
    const entry = this.entries.get(model);
    if (entry && !entry.pending) entry.checkedAt = Number.NEGATIVE_INFINITY;
    return this.get(model);
  }

  /**
   * A version by number (a canary or shadow): the champion's copy when it is that version, else
   * loaded like a champion (sha256, backend open, ModelLoadTime; ModelLoadFailures and a log line
   * when it fails) and kept until retainVersions drops it. Throws ModelUnavailableError when it
   * cannot serve: a version that can never load is not fetched again while it is retained, any
   * other failure is retried after a few seconds.
   */
  async version(model: string, version: number): Promise<LoadedModel> {
    if (!isValidName(model)) throw new UnknownModelError(model);
    const champion = this.entries.get(model)?.current;
    if (champion?.origin === 'registry' && champion.version === version) return champion;
    let slots = this.versions.get(model);
    if (!slots) this.versions.set(model, (slots = new Map()));
    let slot = slots.get(version);
    if (!slot) slots.set(version, (slot = {}));
    if (slot.loaded) return slot.loaded;
    if (
      slot.failure &&
      (slot.permanent || this.now() - (slot.failedAt ?? 0) < Math.min(this.options.ttlMs, FAILURE_RETRY_MS))
    )
      throw slot.failure;
    if (!slot.pending) {
      const settled = slot;
      settled.pending = this.loadSlot(model, version, settled).finally(() => {
        settled.pending = undefined;
      });
    }
    return slot.pending as Promise<LoadedModel>;
  }

  /**
   * Lets go of the versions loaded by number other than these (the champion is not affected).
   * Failed versions are dropped too, so a new routing document gives them a new try.
   */
  retainVersions(model: string, keep: Iterable<number>): void {
    const slots = this.versions.get(model);
    if (!slots) return;
    const kept = new Set(keep);
    for (const [version, slot] of slots) if (!kept.has(version) || slot.failure) slots.delete(version);
  }

  /** What is loaded now (for /health); no I/O. */
  loaded(): LoadedModel[] {
    return [...this.entries.values()].flatMap((e) => (e.current ? [e.current] : []));
  }

  private async refresh(model: string, entry: Entry): Promise<LoadedModel> {
    let resolved: Awaited<ReturnType<ModelSource['resolveAlias']>>;
    try {
      resolved = await this.options.source.resolveAlias(model, this.alias, entry.aliasEtag);
    } catch (error) {
      return this.registryUnreachable(model, entry, error);
    }
    if (resolved === undefined) {
      // No champion (unknown model, or alias removed): nothing to serve, nothing to remember.
      this.entries.delete(model);
      throw new UnknownModelError(model);
    }
    entry.checkedAt = this.now();
    if (resolved === 'unchanged') {
      if (entry.current) return entry.current;
      throw (
        entry.failure ??
        new ModelUnavailableError(model, `version refused earlier; waiting for "${this.alias}" to move`)
      );
    }
    const { record, etag } = resolved;
    if (entry.current?.origin === 'registry' && entry.current.version === record.version) {
      entry.aliasEtag = etag;
      return entry.current;
    }
    try {
      // A canary promoted to champion is already open.
      const loaded =
        this.versions.get(model)?.get(record.version)?.loaded ?? (await this.loadVersion(model, record.version));
      this.options.log.info('model version loaded', {
        model,
        version: record.version,
        previousVersion: entry.current?.version,
        alias: this.alias,
      });
      Object.assign(entry, { current: loaded, aliasEtag: etag, failure: undefined });
      return loaded;
    } catch (error) {
      const permanent = isPermanent(error);
      // A refused version is remembered by the alias ETag, so it is not retried until the alias moves.
      if (permanent) entry.aliasEtag = etag;
      this.loadFailed(model, record.version, error, permanent ? 'refused until the alias moves' : 'will retry');
      return this.fallback(
        model,
        entry,
        new ModelUnavailableError(model, `version ${record.version} cannot be served`, { cause: error }),
      );
    }
  }

  private async loadSlot(model: string, version: number, slot: VersionSlot): Promise<LoadedModel> {
    try {
      const loaded = await this.loadVersion(model, version);
      this.options.log.info('model version loaded', { model, version, for: 'routing document' });
      Object.assign(slot, { loaded, failure: undefined, failedAt: undefined, permanent: undefined });
      return loaded;
    } catch (error) {
      const permanent = isPermanent(error);
      this.loadFailed(model, version, error, permanent ? 'refused while the routing document names it' : 'will retry');
      const failure = new ModelUnavailableError(model, `version ${version} cannot be served`, { cause: error });
      Object.assign(slot, { failure, failedAt: this.now(), permanent });
      throw failure;
    }
  }

  private async registryUnreachable(model: string, entry: Entry, error: unknown): Promise<LoadedModel> {
    entry.checkedAt = this.now();
    if (entry.current) {
      this.options.log.warn('model registry unreachable; serving the loaded version', {
        model,
        version: entry.current.version,
        error: reasonOf(error),
      });
      return entry.current;
    }
    this.loadFailed(model, undefined, error, 'registry unreachable');
    return this.fallback(
      model,
      entry,
      new ModelUnavailableError(model, 'the model registry is unreachable', { cause: error }),
    );
  }

  /** The last good version, else the bundled copy, else the failure (remembered until the next check). */
  private async fallback(model: string, entry: Entry, failure: ModelUnavailableError): Promise<LoadedModel> {
    entry.checkedAt = this.now();
    if (entry.current) return entry.current;
    const bundled = await this.loadBundled(model);
    if (bundled) {
      this.options.log.warn('serving the bundled model', { model, version: bundled.version, reason: failure.message });
      this.options.recorder.record({
        name: INFERENCE_METRICS.bundledModelFallbacks,
        unit: 'Count',
        value: 1,
        dimensions: { model },
      });
      entry.current = bundled;
      entry.failure = undefined;
      return bundled;
    }
    entry.failure = failure;
    throw failure;
  }

  private loadFailed(model: string, version: number | undefined, error: unknown, outcome: string): void {
    this.options.log.error('model load failed', { model, version, outcome, error: reasonOf(error) });
    this.options.recorder.record({
      name: INFERENCE_METRICS.modelLoadFailures,
      unit: 'Count',
      value: 1,
      dimensions: { model },
    });
  }

  private async loadVersion(model: string, version: number): Promise<LoadedModel> {
    const start = performance.now();
    const backend = this.options.backendFor(model);
    const manifest = await this.options.source.getManifest(model, version);
    const onnx = backend.needsModelBytes ? await this.options.source.getModelBytes(model, version) : undefined;
    const loaded = await this.open(model, version, manifest, onnx, backend, 'registry');
    this.options.recorder.record({
      name: INFERENCE_METRICS.modelLoadTime,
      unit: 'Milliseconds',
      value: elapsedMs(start),
      dimensions: { model },
    });
    return loaded;
  }

  private async open(
    model: string,
    version: number,
    manifest: ModelManifest,
    onnx: Uint8Array | undefined,
    backend: ModelBackend,
    origin: LoadedModel['origin'],
  ): Promise<LoadedModel> {
    if (onnx !== undefined) {
      const actual = sha256Hex(onnx);
      if (actual !== manifest.sha256)
        throw new ModelLoadError(
          `model "${model}" version ${version}: model.onnx has sha256 ${actual}, the manifest says ${manifest.sha256}`,
        );
    }
    const predictor = await backend.open({ manifest, onnx });
    return {
      name: model,
      version,
      manifest,
      predictor,
      backend: backend.kind,
      origin,
      loadedAt: new Date().toISOString(),
    };
  }

  /** BUNDLED_MODELS_DIR/<model>/{manifest.json,model.onnx}, verified like any version; undefined if absent or bad. */
  private async loadBundled(model: string): Promise<LoadedModel | undefined> {
    const dir = this.options.bundledModelsDir;
    if (dir === undefined) return undefined;
    const folder = join(dir, model);
    try {
      const manifestPath = join(folder, 'manifest.json');
      const manifest = decodeManifest(await readFile(manifestPath), manifestPath);
      const backend = this.options.backendFor(model);
      const onnx = backend.needsModelBytes ? new Uint8Array(await readFile(join(folder, 'model.onnx'))) : undefined;
      return await this.open(model, manifest.version ?? 0, manifest, onnx, backend, 'bundled');
    } catch (error) {
      const absent = (error as NodeJS.ErrnoException).code === 'ENOENT';
      if (!absent) this.options.log.error('bundled model cannot be served', { model, folder, error: reasonOf(error) });
      return undefined;
    }
  }
}
