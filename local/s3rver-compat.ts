import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unquoteEtag } from '../core/etag';

/**
 * Where s3rver 3.7 differs from S3 in ways the platform depends on, one Koa middleware that
 * answers as S3 does:
 * - conditional requests: s3rver ignores If-None-Match / If-Match on PutObject (the registry needs
 *   the 412 for race-free version numbers and alias moves) and If-Match on GetObject / HeadObject
 *   (a batch job's reads of the upload it started on);
 * - object writes are not atomic: s3rver rewrites the file in place, so a concurrent reader
 *   could see half an object;
 * - ListObjectsV2: paging crashes on Node >= 17 (its continuation tokens use DES, which
 *   OpenSSL 3 only offers behind --openssl-legacy-provider), pages follow readdir order, and
 *   Delimiter misses common prefixes that have no object directly beneath them.
 */

/** The slice of a Koa context the middleware touches. */
export interface KoaContext {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  get(header: string): string;
  set(header: string, value: string): void;
  status: number;
  type: string;
  body: unknown;
}

export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

interface StoredObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModifiedDate: Date;
  readonly metadata: Readonly<Record<string, string | number>>;
}

/** The part of s3rver (a Koa application) the platform uses; s3rver ships no type declarations. */
export interface S3rverServer {
  readonly middleware: KoaMiddleware[];
  readonly store: {
    getBucket(bucket: string): Promise<unknown>;
    getMetadata(bucket: string, key: string): Promise<Readonly<Record<string, string | number>>>;
    listObjects(
      bucket: string,
      options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
    ): Promise<{ objects: StoredObjectInfo[]; commonPrefixes: string[]; isTruncated: boolean }>;
  };
  readonly httpServer?: Server;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3EventNotification) => void): unknown;
  off(event: 'event', listener: (event: S3EventNotification) => void): unknown;
}

export interface S3EventNotification {
  readonly Records: readonly {
    readonly eventName: string;
    readonly s3: {
      readonly bucket: { readonly name: string };
      readonly object: { readonly key: string; readonly eTag?: string; readonly size?: number };
    };
  }[];
}

export { unquoteEtag };

/** Serialises async work per key: each caller waits for the previous holder's release. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function xmlElements(fields: Readonly<Record<string, string | number | boolean | undefined>>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`)
    .join('');
}

function answer(ctx: KoaContext, status: number, xml: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
}

export interface ConditionFailure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly condition?: string;
}

/** What S3 answers when a write's condition does not hold (undefined: it holds). */
export function conditionFailure(
  current: string | undefined,
  ifNoneMatch: string,
  ifMatch: string,
): ConditionFailure | undefined {
  const failed = (condition: string): ConditionFailure => ({
    status: 412,
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
    condition,
  });
  if (ifNoneMatch.trim() === '*' && current !== undefined) return failed('If-None-Match');
  if (ifMatch) {
    // S3 answers 404 to If-Match on a missing object: there is nothing to match.
    if (current === undefined) return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' };
    const accepted = ifMatch.split(',').map(unquoteEtag);
    if (!accepted.includes('*') && !accepted.includes(current)) return failed('If-Match');
  }
  return undefined;
}

/** Sub-resource PUTs (parts, tags, ACLs) are not object writes: S3 ignores object conditions on them. */
const SUB_RESOURCES = ['uploadId', 'partNumber', 'tagging', 'acl', 'legal-hold', 'retention'];

async function currentEtag(server: S3rverServer, bucket: string, key: string): Promise<string | undefined> {
  try {
    return unquoteEtag(String((await server.store.getMetadata(bucket, key))['etag']));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Every request on one object key runs alone, from its start until its response is sent: the
 * condition check and the write it guards are one step (as on S3), and no reader sees an object
 * that s3rver is still rewriting. Listings and other keys are not held up. (A client that never
 * reads a large GET body holds its key until the connection closes.)
 */
async function objectRequest(
  server: S3rverServer,
  locks: KeyedLock,
  ctx: KoaContext,
  next: () => Promise<void>,
  bucket: string,
  key: string,
) {
  const release = await locks.acquire(`${bucket}/${key}`);
  // Koa writes the body after the middleware chain returns, so the response (or its failure)
  // releases the lock, not the end of this function.
  ctx.res.once('finish', release).once('close', release);
  try {
    const plainObject = !SUB_RESOURCES.some((q) => q in ctx.query);
    const write = ctx.method === 'PUT' && plainObject;
    // If-Match on a read, as S3: 412 unless the object is still that version (a batch job's range
    // reads pin the upload they started on). If-None-Match on a read (304) is not needed here.
    const read = (ctx.method === 'GET' || ctx.method === 'HEAD') && plainObject;
    const ifNoneMatch = write ? ctx.get('if-none-match') : '';
    const ifMatch = write || read ? ctx.get('if-match') : '';
    const failure =
      ifNoneMatch || ifMatch
        ? conditionFailure(await currentEtag(server, bucket, key), ifNoneMatch, ifMatch)
        : undefined;
    if (failure) {
      ctx.set('x-amz-error-code', failure.code);
      answer(
        ctx,
        failure.status,
        `<Error>${xmlElements({ Code: failure.code, Message: failure.message, Condition: failure.condition, Key: key })}</Error>`,
      );
      return;
    }
    await next();
  } catch (error) {
    release();
    throw error;
  }
}

const encodeToken = (key: string) => Buffer.from(key, 'utf8').toString('base64url');
const decodeToken = (token: string) => Buffer.from(token, 'base64url').toString('utf8');
const queryValue = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * ListObjectsV2 over s3rver's store, paged and rolled up here: s3rver's own paging follows
 * readdir order (unsorted on most file systems) and its roll-up misses prefixes with no object
 * directly beneath them (registry/<model>/ holds only deeper keys). Tokens are the last name
 * returned (base64url), opaque to clients as on S3. Each page walks the whole prefix, which is
 * fine for the few thousand objects of a local platform.
 */
async function listObjectsV2(server: S3rverServer, ctx: KoaContext, bucket: string, pageSize: number): Promise<void> {
  if (!(await server.store.getBucket(bucket))) {
    answer(
      ctx,
      404,
      `<Error>${xmlElements({ Code: 'NoSuchBucket', Message: 'The specified bucket does not exist', BucketName: bucket })}</Error>`,
    );
    return;
  }
  const q = (name: string) => queryValue(ctx.query[name]);
  const token = q('continuation-token');
  const maxKeys = Math.max(0, Math.min(pageSize, Number(q('max-keys') ?? pageSize) || 0));
  const prefix = q('prefix') ?? '';
  const delimiter = q('delimiter') ?? '';
  const after = token ? decodeToken(token) : (q('start-after') ?? '');
  const { objects } = await server.store.listObjects(bucket, { prefix: prefix || undefined });
  const entries: { name: string; object?: StoredObjectInfo }[] = [];
  for (const object of [...objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const cut = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
    const name = cut === -1 ? object.key : object.key.slice(0, cut + delimiter.length);
    if (name <= after || entries.at(-1)?.name === name) continue;
    entries.push(cut === -1 ? { name, object } : { name });
  }
  const page = entries.slice(0, maxKeys);
  const truncated = entries.length > page.length && page.length > 0;
  const head = xmlElements({
    Name: bucket,
    Prefix: prefix,
    StartAfter: token ? undefined : q('start-after'),
    ContinuationToken: token,
    NextContinuationToken: truncated ? encodeToken(page[page.length - 1].name) : undefined,
    KeyCount: page.length,
    MaxKeys: maxKeys,
    Delimiter: delimiter || undefined,
    IsTruncated: truncated,
  });
  const body = page.map(({ name, object: o }) =>
    o
      ? `<Contents>${xmlElements({ Key: o.key, LastModified: o.lastModifiedDate.toISOString(), ETag: String(o.metadata['etag']), Size: o.size, StorageClass: 'STANDARD' })}</Contents>`
      : `<CommonPrefixes>${xmlElements({ Prefix: name })}</CommonPrefixes>`,
  );
  answer(
    ctx,
    200,
    `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${head}${body.join('')}</ListBucketResult>`,
  );
}

/**
 * The middleware; put it first in s3rver's chain (path-style requests only, as the local client
 * sends). `listPageSize` is S3's 1000 unless a test wants to see paging with a few keys.
 */
export function s3Compat(server: S3rverServer, listPageSize = 1000): KoaMiddleware {
  const locks = new KeyedLock();
  return async (ctx, next) => {
    // The SDK addresses a bucket as /<bucket>/ and an object as /<bucket>/<key>.
    const match = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
    if (!match) return next();
    const bucket = decodeURIComponent(match[1]);
    if (match[2]) return objectRequest(server, locks, ctx, next, bucket, decodeURIComponent(match[2]));
    if (ctx.method === 'GET' && queryValue(ctx.query['list-type']) === '2')
      return listObjectsV2(server, ctx, bucket, listPageSize);
    return next();
  };
}
