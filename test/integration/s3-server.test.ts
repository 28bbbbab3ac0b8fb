import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { PreconditionFailedError } from '../../core/object-store';
import type { S3ObjectStore } from '../../core/s3-object-store';
import type { ObjectCreated } from '../../local/s3-server';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/** The local S3 server must behave as S3 where the platform relies on it, through the real SDK. */
describe('local S3 server through S3ObjectStore', () => {
  let s3: TestS3;
  let store: S3ObjectStore;

  beforeAll(async () => {
    // Pages of 10 instead of S3's 1000 make paging visible without writing thousands of objects.
    s3 = await startTestS3(['objects'], { listPageSize: 10 });
    store = s3.store('objects');
  });
  afterAll(() => s3.close());

  it('answers 412 to a second If-None-Match:* PUT and keeps the first object', async () => {
    await store.put('create/once.txt', 'first', { condition: { ifNoneMatch: '*' } });
    await expect(store.put('create/once.txt', 'second', { condition: { ifNoneMatch: '*' } })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(Buffer.from((await store.get('create/once.txt'))!.body).toString()).toBe('first');
  });

  it('answers 412 to a PUT with a stale If-Match and accepts the current ETag', async () => {
    const first = await store.put('match/alias.json', 'v1');
    const second = await store.put('match/alias.json', 'v2', { condition: { ifMatch: first.etag } });
    await expect(store.put('match/alias.json', 'v3', { condition: { ifMatch: first.etag } })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(await store.get('match/alias.json')).toEqual({ body: new Uint8Array(Buffer.from('v2')), etag: second.etag });
  });

  it('treats If-Match on a missing object as a lost condition', async () => {
    await expect(store.put('match/missing.json', 'x', { condition: { ifMatch: 'abc' } })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
  });

  it('answers 412 to a GET or HEAD with a stale If-Match, and serves the current ETag (ranges too)', async () => {
    const first = await store.put('read/upload.csv', 'a,b\n1,2\n');
    const second = await store.put('read/upload.csv', 'a,b\n3,4\n');
    const get = (etag: string) =>
      s3.client.send(
        new GetObjectCommand({ Bucket: 'objects', Key: 'read/upload.csv', IfMatch: etag, Range: 'bytes=4-6' }),
      );
    await expect(get(first.etag)).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    await expect(
      s3.client.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'read/upload.csv', IfMatch: first.etag })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect(await (await get(second.etag)).Body?.transformToString()).toBe('3,4');
  });

  it('lets exactly one of many simultaneous If-None-Match:* writers win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.put('race/claim', `writer ${i}`, { condition: { ifNoneMatch: '*' } })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof PreconditionFailedError)).toHaveLength(
      19,
    );
  });

  it('answers a conditional GET with "unchanged" while the ETag is current', async () => {
    const { etag } = await store.put('cache/alias.json', 'one');
    expect(await store.getIfChanged('cache/alias.json', etag)).toBe('unchanged');
    const { etag: next } = await store.put('cache/alias.json', 'two');
    expect(await store.getIfChanged('cache/alias.json', etag)).toEqual({
      body: new Uint8Array(Buffer.from('two')),
      etag: next,
    });
    expect(await store.getIfChanged('cache/none.json', etag)).toBeUndefined();
    expect(await store.get('cache/none.json')).toBeUndefined();
  });

  it('lists every key and every folder across pages', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `page/${String(i).padStart(2, '0')}/${i % 2 ? 'a' : 'b/c'}`);
    await Promise.all(names.map((k) => store.put(k, 'x')));
    expect(await store.list('page/')).toEqual([...names].sort());
    expect(await store.listPrefixes('page/')).toEqual(names.map((n) => n.slice('page/'.length, 'page/'.length + 2)));
    // Folders holding only deeper keys count too (s3rver alone misses them).
    expect(await store.listPrefixes('')).toEqual(expect.arrayContaining(['page', 'race', 'create']));
  });

  it('deletes objects', async () => {
    await store.put('gone/soon', 'x');
    await store.delete('gone/soon');
    expect(await store.get('gone/soon')).toBeUndefined();
  });

  it('reports created objects with their unquoted ETag', async () => {
    const seen: ObjectCreated[] = [];
    const stop = s3.server.onObjectCreated((e) => seen.push(e));
    const { etag } = await store.put('incoming/iris/data.csv', 'a,b\n1,2\n');
    stop();
    await store.put('incoming/iris/after.csv', 'x');
    expect(seen).toEqual([
      { bucket: 'objects', key: 'incoming/iris/data.csv', etag, size: 8, eventName: 'ObjectCreated:Put' },
    ]);
  });
});
