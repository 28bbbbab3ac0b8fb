import type { ModelManifest } from '../../core/manifest';
import { DEFAULT_ALIAS, type ModelSource } from '../../core/registry/types';

export interface CatalogModel {
  readonly name: string;
  /** The champion's version and manifest; absent when the model has no champion yet. */
  readonly champion?: { readonly version: number; readonly manifest: ModelManifest; readonly etag: string };
}

/**
 * Every model's champion manifest (schema, classes), for GET /models and for choosing the model
 * of POST /predict by feature names. Refreshed after the TTL; an unchanged alias costs a 304.
 * Throws when the registry is unreachable (callers answer 503 or fall back to the default model).
 */
export class ModelCatalog {
  private cached?: { readonly at: number; readonly models: readonly CatalogModel[] };
  private pending?: Promise<readonly CatalogModel[]>;

  constructor(
    private readonly source: ModelSource,
    private readonly ttlMs: number,
    private readonly alias: string = DEFAULT_ALIAS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async models(): Promise<readonly CatalogModel[]> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return this.cached.models;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(): Promise<readonly CatalogModel[]> {
    const previous = new Map((this.cached?.models ?? []).map((m) => [m.name, m]));
    const names = await this.source.listModels();
    const models = await Promise.all(names.map((name) => this.describe(name, previous.get(name)?.champion)));
    this.cached = { at: this.now(), models };
    return models;
  }

  /** One model; a model whose records cannot be read keeps what was known, so it cannot hide the others. */
  private async describe(name: string, before: CatalogModel['champion']): Promise<CatalogModel> {
    try {
      const resolved = await this.source.resolveAlias(name, this.alias, before?.etag);
      if (resolved === 'unchanged') return { name, champion: before };
      if (resolved === undefined) return { name };
      const { record, etag } = resolved;
      const manifest =
        before?.version === record.version ? before.manifest : await this.source.getManifest(name, record.version);
      return { name, champion: { version: record.version, manifest, etag } };
    } catch {
      return { name, champion: before };
    }
  }
}
