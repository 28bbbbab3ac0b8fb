import type { ObjectStore, StoredObject } from '../../core/object-store';
import { isValidName } from '../../core/registry/keys';
import { CorruptRoutingError, decodeRouting, type RoutingDocument, routingKey } from '../../core/registry/routing';
import { type AppLog, INFERENCE_METRICS, type MetricsRecorder } from './metrics';

/**
 * Each model's routing document (registry/<model>/routing.json: canary and shadow), read like the
 * champion alias: trusted for the TTL, then re-checked with a conditional GET (unchanged = a 304,
 * no body). No document means the champion serves everything. A document that cannot be used
 * (not JSON, not a routing document) is ignored, so the champion serves everything, and reported
 * (RoutingDocumentErrors, a log line) at every check until it is fixed. When S3 cannot be read,
 * the document last read keeps applying. `get` never throws: routing can only add to serving.
 */

/** Where routing documents come from: the registry bucket (routingObjectSource), or a fake in tests. */
export interface RoutingSource {
  /** The document's bytes and ETag; 'unchanged' when `etag` is given and still current; undefined when there is none. */
  getRouting(model: string, etag?: string): Promise<StoredObject | 'unchanged' | undefined>;
}

/** routing.json over the registry bucket the function already reads (registry/* is granted). */
export function routingObjectSource(store: Pick<ObjectStore, 'get' | 'getIfChanged'>): RoutingSource {
  return {
    getRouting: (model, etag) =>
      etag === undefined ? store.get(routingKey(model)) : store.getIfChanged(routingKey(model), etag),
  };
}

export interface RoutingCacheOptions {
  readonly source: RoutingSource;
  /** How long a read document is trusted before it is re-checked (the champion's TTL). */
  readonly ttlMs: number;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** Told when a model's document in force changes (e.g. to let go of versions it no longer names). */
  readonly onChange?: (model: string, document: RoutingDocument | undefined) => void;
  /** @default performance.now */
  readonly now?: () => number;
}

interface Entry {
  document?: RoutingDocument;
  /** ETag of the object last read, usable or not: a 304 means nothing changed. */
  etag?: string;
  /** Why the object with `etag` was ignored. */
  corrupt?: CorruptRoutingError;
  checkedAt: number;
  pending?: Promise<RoutingDocument | undefined>;
}

export class RoutingCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: RoutingCacheOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** The document in force for the model, or undefined (champion only). */
  async get(model: string): Promise<RoutingDocument | undefined> {
    if (!isValidName(model)) return undefined;
    let entry = this.entries.get(model);
    if (!entry) {
      entry = { checkedAt: Number.NEGATIVE_INFINITY };
      this.entries.set(model, entry);
    }
    if (this.now() - entry.checkedAt < this.options.ttlMs) return entry.document;
    if (!entry.pending) {
      const settled = entry;
      settled.pending = this.refresh(model, settled).finally(() => {
        settled.pending = undefined;
      });
    }
    return entry.pending;
  }

  private async refresh(model: string, entry: Entry): Promise<RoutingDocument | undefined> {
    let read: Awaited<ReturnType<RoutingSource['getRouting']>>;
    try {
      read = await this.options.source.getRouting(model, entry.etag);
    } catch (error) {
      entry.checkedAt = this.now();
      this.options.log.warn('routing document unreadable; the last one read still applies', {
        model,
        error: error instanceof Error ? error.message : String(error),
        canary: entry.document?.canary?.version,
        shadow: entry.document?.shadow?.version,
      });
      return entry.document;
    }
    entry.checkedAt = this.now();
    if (read === 'unchanged') {
      if (entry.corrupt) this.reportCorrupt(model, entry.corrupt);
      return entry.document;
    }
    const before = entry.document;
    if (read === undefined) {
      Object.assign(entry, { document: undefined, etag: undefined, corrupt: undefined });
    } else {
      try {
        const document = decodeRouting(read.body, routingKey(model));
        if (document.model !== model)
          throw new CorruptRoutingError(`${routingKey(model)} is the routing document of model "${document.model}"`);
        Object.assign(entry, { document, etag: read.etag, corrupt: undefined });
      } catch (error) {
        const corrupt =
          error instanceof CorruptRoutingError ? error : new CorruptRoutingError(String(error), { cause: error });
        Object.assign(entry, { document: undefined, etag: read.etag, corrupt });
        this.reportCorrupt(model, corrupt);
      }
    }
    if (entry.document !== before) {
      const { canary, shadow } = entry.document ?? {};
      this.options.log.info('routing document in force', {
        model,
        canary: canary ? { version: canary.version, weight: canary.weight, rolloutId: canary.rolloutId } : null,
        shadow: shadow ? { version: shadow.version, sample: shadow.sample } : null,
      });
      this.options.onChange?.(model, entry.document);
    }
    return entry.document;
  }

  private reportCorrupt(model: string, error: CorruptRoutingError): void {
    this.options.log.error('routing document ignored; the champion serves everything', { model, error: error.message });
    this.options.recorder.record({
      name: INFERENCE_METRICS.routingDocumentErrors,
      unit: 'Count',
      value: 1,
      dimensions: { model },
    });
  }
}
