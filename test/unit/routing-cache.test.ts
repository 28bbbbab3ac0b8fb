import type { StoredObject } from '../../core/object-store';
import type { RoutingDocument } from '../../core/registry/routing';
import { INFERENCE_METRICS, memoryRecorder } from '../../lambdas/inference/metrics';
import { RoutingCache, routingObjectSource, type RoutingSource } from '../../lambdas/inference/routing-cache';

const TTL = 1000;

const document = (overrides: Partial<RoutingDocument> = {}): RoutingDocument => ({
  model: 'iris',
  champion: 1,
  canary: { rolloutId: 'r1', version: 2, weight: 10, startedAt: '2026-01-01T00:00:00Z' },
  updatedAt: '2026-01-01T00:00:00Z',
  actor: 'test',
  reason: 'test',
  ...overrides,
});

/** A routing.json in memory with S3's conditional GET: ETags change with the content. */
function fakeSource() {
  const state: { body?: string; version: number; fail?: Error; reads: { etag?: string }[] } = { version: 0, reads: [] };
  const source: RoutingSource = {
    async getRouting(_model, etag) {
      state.reads.push({ etag });
      if (state.fail) throw state.fail;
      if (state.body === undefined) return undefined;
      const current = `etag-${state.version}`;
      if (etag === current) return 'unchanged';
      return { body: new TextEncoder().encode(state.body), etag: current } satisfies StoredObject;
    },
  };
  const write = (body: string | undefined) => {
    state.body = body;
    state.version++;
  };
  return { source, state, write };
}

function setup() {
  const clock = { now: 0 };
  const fake = fakeSource();
  const recorder = memoryRecorder();
  const logged: { level: string; message: string }[] = [];
  const log = {
    info: (message: string) => logged.push({ level: 'info', message }),
    warn: (message: string) => logged.push({ level: 'warn', message }),
    error: (message: string) => logged.push({ level: 'error', message }),
  };
  const changes: (RoutingDocument | undefined)[] = [];
  const cache = new RoutingCache({
    source: fake.source,
    ttlMs: TTL,
    recorder,
    log,
    now: () => clock.now,
    onChange: (_model, doc) => changes.push(doc),
  });
  const errors = () => recorder.records.filter((r) => r.name === INFERENCE_METRICS.routingDocumentErrors);
  return { clock, cache, ...fake, recorder, logged, changes, errors };
}

describe('RoutingCache', () => {
  test('no document: the champion only, checked again after the TTL, not before', async () => {
    const { cache, state, clock } = setup();
    expect(await cache.get('iris')).toBeUndefined();
    clock.now = TTL - 1;
    await cache.get('iris');
    expect(state.reads).toHaveLength(1);
    clock.now = TTL;
    await cache.get('iris');
    expect(state.reads).toHaveLength(2);
  });

  test('a document is re-checked with its ETag after the TTL: unchanged costs a 304 and keeps it, a new one replaces it', async () => {
    const { cache, state, clock, write, changes } = setup();
    write(JSON.stringify(document()));
    const first = await cache.get('iris');
    expect(first?.canary?.weight).toBe(10);
    clock.now += TTL;
    expect(await cache.get('iris')).toBe(first);
    expect(state.reads.map((r) => r.etag)).toEqual([undefined, 'etag-1']);
    write(JSON.stringify(document({ canary: undefined, shadow: { version: 3, sample: 5, startedAt: 'now' } })));
    clock.now += TTL;
    expect(await cache.get('iris')).toMatchObject({ shadow: { version: 3 } });
    write(undefined);
    clock.now += TTL;
    expect(await cache.get('iris')).toBeUndefined();
    expect(changes.map((c) => (c ? { canary: c.canary?.version, shadow: c.shadow?.version } : null))).toEqual([
      { canary: 2, shadow: undefined },
      { canary: undefined, shadow: 3 },
      null,
    ]);
  });

  test('a corrupt document is ignored and reported at every check (304s included) until it is fixed', async () => {
    const { cache, clock, write, errors, logged } = setup();
    write(JSON.stringify(document()));
    await cache.get('iris');
    write('{"model": "iris", "canary": ');
    clock.now += TTL;
    expect(await cache.get('iris')).toBeUndefined();
    clock.now += TTL;
    expect(await cache.get('iris')).toBeUndefined();
    expect(errors()).toEqual(
      [1, 2].map(() => ({ name: 'RoutingDocumentErrors', unit: 'Count', value: 1, dimensions: { model: 'iris' } })),
    );
    expect(logged.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(
      Array(2).fill('routing document ignored; the champion serves everything'),
    );
    write(JSON.stringify(document({ canary: { rolloutId: 'r2', version: 4, weight: 50, startedAt: 'now' } })));
    clock.now += TTL;
    expect((await cache.get('iris'))?.canary?.version).toBe(4);
    expect(errors()).toHaveLength(2);
  });

  test('a document that fails the schema, or names another model, is corrupt', async () => {
    const { cache, write, errors } = setup();
    write(JSON.stringify({ ...document(), canary: { rolloutId: 'r', version: 2, weight: 150, startedAt: 'now' } }));
    expect(await cache.get('iris')).toBeUndefined();
    const other = setup();
    other.write(JSON.stringify(document({ model: 'wine' })));
    expect(await other.cache.get('iris')).toBeUndefined();
    expect([errors().length, other.errors().length]).toEqual([1, 1]);
  });

  test('when S3 cannot be read, the document last read still applies; never throws', async () => {
    const { cache, clock, write, state, logged } = setup();
    write(JSON.stringify(document()));
    await cache.get('iris');
    state.fail = new Error('connect ECONNREFUSED');
    clock.now += TTL;
    expect((await cache.get('iris'))?.canary?.version).toBe(2);
    expect(logged.at(-1)).toEqual({
      level: 'warn',
      message: 'routing document unreadable; the last one read still applies',
    });
    const cold = setup();
    cold.state.fail = new Error('down');
    await expect(cold.cache.get('iris')).resolves.toBeUndefined();
  });

  test('concurrent requests share one read; names the registry cannot hold are never read', async () => {
    const { cache, state, write } = setup();
    write(JSON.stringify(document()));
    await Promise.all(Array.from({ length: 10 }, () => cache.get('iris')));
    expect(state.reads).toHaveLength(1);
    expect(await cache.get('../etc')).toBeUndefined();
    expect(state.reads).toHaveLength(1);
  });
});

describe('routingObjectSource', () => {
  test('reads registry/<model>/routing.json, conditionally when it has an ETag', async () => {
    const calls: string[] = [];
    const source = routingObjectSource({
      get: async (key) => (calls.push(`get ${key}`), undefined),
      getIfChanged: async (key, etag) => (calls.push(`getIfChanged ${key} ${etag}`), 'unchanged'),
    });
    await source.getRouting('iris');
    await source.getRouting('iris', 'abc');
    expect(calls).toEqual(['get registry/iris/routing.json', 'getIfChanged registry/iris/routing.json abc']);
  });
});
