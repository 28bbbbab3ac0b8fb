/**
 * The storage port: the few S3 operations the registry, the inference handler and the pipeline
 * need, with S3's conditional-write semantics. Implemented over @aws-sdk/client-s3 (any
 * S3-compatible endpoint); domain code depends only on this interface.
 */

export interface StoredObject {
  readonly body: Uint8Array;
  readonly etag: string;
}

/** ifNoneMatch '*': create only if absent. ifMatch: replace only if the current ETag is this one. */
export type PutCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string };

/** A conditional write lost: the object exists (ifNoneMatch) or changed (ifMatch). S3 answers 412. */
export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';

  constructor(readonly key: string) {
    super(`conditional write to ${key} failed: the object exists or changed`);
  }
}

export interface ObjectStore {
  /** The object, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Conditional GET: 'unchanged' when the object's ETag is still `etag` (S3 answers 304). */
  getIfChanged(key: string, etag: string): Promise<StoredObject | 'unchanged' | undefined>;
  /** Writes the object; throws PreconditionFailedError when the condition does not hold. */
  put(
    key: string,
    body: Uint8Array | string,
    options?: { readonly condition?: PutCondition; readonly contentType?: string },
  ): Promise<{ etag: string }>;
  /** Every key under the prefix (all pages), in lexicographic order. */
  list(prefix: string): Promise<string[]>;
  /** The next path segments under the prefix ("folders"), e.g. model names under registry/. */
  listPrefixes(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
