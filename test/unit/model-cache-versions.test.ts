import type { ModelManifest } from '../../core/manifest';
import { batchSize } from '../../core/features';
import { type AliasRecord, type ModelSource, UnknownModelError } from '../../core/registry/types';
import { type ModelBackend, ModelLoadError } from '../../lambdas/inference/backends/types';
import { INFERENCE_METRICS, memoryRecorder, silentLog } from '../../lambdas/inference/metrics';
import { ModelCache, ModelUnavailableError } from '../../lambdas/inference/model-cache';

const TTL = 1000;

/** A registry with versions 1..5 of "iris" and a champion alias the test moves; no bytes (a remote backend). */
function setup(options: { refuse?: readonly number[] } = {}) {
  const clock = { now: 0 };
  const alias = { version: 1, etag: 'a1' };
  const fetched: number[] = [];
  const failures = { transient: new Set<number>() };
  const source: ModelSource = {
    async resolveAlias(_model, _alias, etag) {
      if (etag === alias.etag) return 'unchanged';
      return { record: { version: alias.version } as AliasRecord, etag: alias.etag };
    },
    async getManifest(model, version) {
      fetched.push(version);
      if (failures.transient.has(version)) throw new Error('S3 timeout');
      if (version > 5) throw new UnknownModelError(model, version);
      return { name: model, version, classes: ['a', 'b'], features: [] } as unknown as ModelManifest;
    },
    getModelBytes: async () => new Uint8Array(),
    listModels: async () => ['iris'],
    listVersions: async () => [],
  };
  const opened: number[] = [];
  const backend: ModelBackend = {
    kind: 'sagemaker',
    needsModelBytes: false,
    async open({ manifest }) {
      if (options.refuse?.includes(manifest.version ?? 0))
        throw new ModelLoadError(`version ${manifest.version} does not load`);
      opened.push(manifest.version ?? 0);
      return { predict: async (batch) => Array.from({ length: batchSize(batch) }, () => [1, 0]) };
    },
  };
  const recorder = memoryRecorder();
  const cache = new ModelCache({
    source,
    backendFor: () => backend,
    ttlMs: TTL,
    recorder,
    log: silentLog,
    now: () => clock.now,
  });
  const promote = (version: number) => Object.assign(alias, { version, etag: `a${version}` });
  const loadFailures = () => recorder.records.filter((r) => r.name === INFERENCE_METRICS.modelLoadFailures).length;
  return { cache, clock, promote, fetched, opened, failures, loadFailures };
}

describe('ModelCache.version: versions a routing document names', () => {
  test("loads a version once and shares it; the champion's own copy when it is that version", async () => {
    const { cache, opened } = setup();
    const champion = await cache.get('iris');
    const [a, b] = await Promise.all([cache.version('iris', 2), cache.version('iris', 2)]);
    expect(a).toBe(b);
    expect(a.version).toBe(2);
    expect(await cache.version('iris', 1)).toBe(champion);
    expect(opened).toEqual([1, 2]);
  });

  test('a canary promoted to champion is not loaded again', async () => {
    const { cache, clock, promote, opened } = setup();
    await cache.get('iris');
    const canary = await cache.version('iris', 3);
    promote(3);
    clock.now += TTL;
    expect(await cache.get('iris')).toBe(canary);
    expect(opened).toEqual([1, 3]);
  });

  test('a version that can never load is refused once (ModelLoadFailures) and not fetched again while retained', async () => {
    const { cache, clock, fetched, loadFailures } = setup({ refuse: [4] });
    await expect(cache.version('iris', 4)).rejects.toBeInstanceOf(ModelUnavailableError);
    await expect(cache.version('iris', 9)).rejects.toThrow(/version 9 cannot be served/);
    clock.now += 10 * TTL;
    await expect(cache.version('iris', 4)).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(fetched).toEqual([4, 9]);
    expect(loadFailures()).toBe(2);
    // A new routing document naming it again gives it a new try.
    cache.retainVersions('iris', [4]);
    await expect(cache.version('iris', 4)).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(fetched).toEqual([4, 9, 4]);
  });

  test('any other failure is retried after a few seconds, not on every request', async () => {
    const { cache, clock, fetched, failures } = setup();
    failures.transient.add(2);
    await expect(cache.version('iris', 2)).rejects.toBeInstanceOf(ModelUnavailableError);
    clock.now += TTL / 2;
    await expect(cache.version('iris', 2)).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(fetched).toEqual([2]);
    failures.transient.clear();
    clock.now += TTL;
    expect((await cache.version('iris', 2)).version).toBe(2);
  });

  test('retainVersions lets go of the versions no longer named; the champion stays', async () => {
    const { cache, opened } = setup();
    const champion = await cache.get('iris');
    const two = await cache.version('iris', 2);
    await cache.version('iris', 3);
    cache.retainVersions('iris', [2]);
    expect(await cache.version('iris', 2)).toBe(two);
    await cache.version('iris', 3);
    expect(opened).toEqual([1, 2, 3, 3]);
    cache.retainVersions('iris', []);
    expect(await cache.get('iris')).toBe(champion);
  });
});
