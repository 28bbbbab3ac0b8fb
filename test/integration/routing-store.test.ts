import type { ObjectStore } from '../../core/object-store';
import { AliasMovedError } from '../../core/registry/aliases';
import { versionKey } from '../../core/registry/keys';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { encodeJson } from '../../core/registry/records';
import { ModelRegistry } from '../../core/registry/registry';
import {
  CorruptRoutingError,
  DEFAULT_ROLLOUT_PLAN,
  type RolloutRequest,
  rolloutRequestKey,
  rolloutsPrefix,
  routingKey,
} from '../../core/registry/routing';
import {
  RolloutAbortedError,
  RoutingConflictError,
  RoutingRefusedError,
  RoutingStore,
} from '../../core/registry/routing-store';
import type { S3ObjectStore } from '../../core/s3-object-store';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { type ExportedModel, exportModel } from '../../training/export';
import { sha256Hex } from '../../core/hash';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The routing document's writes against the local S3 server (which enforces If-Match and
 * If-None-Match like S3), real trained models and the real ONNX validator. The races fail on a
 * server that ignores the conditions: two starts would both "win", a weight change could undo an abort.
 */

function trainIris(algorithm: 'lr' | 'nb'): ExportedModel {
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { label: 'class', algorithms: [algorithm] });
  return exportModel(run, run.best, 'iris', table.sources);
}

const alice = { actor: 'alice', reason: 'try the retrained model' };
const ROLLOUT_ID = /^iris-\d{8}T\d{6}Z-[0-9a-f]{6}$/;

describe('routing store on a local S3 server', () => {
  let s3: TestS3;
  let store: S3ObjectStore;
  let registry: ModelRegistry;
  let routing: RoutingStore;
  let lr: ExportedModel;
  let nb: ExportedModel;
  const now = new Date('2025-06-01T12:00:00.000Z');
  const validator = new OnnxModelValidator();
  const champion = async (alias = 'champion') => {
    const resolved = await registry.resolveAlias('iris', alias);
    return typeof resolved === 'object' ? resolved.record.version : undefined;
  };
  const document = async () => (await routing.read('iris'))?.document;

  beforeAll(async () => {
    s3 = await startTestS3(['models']);
    store = s3.store('models');
    [lr, nb] = [trainIris('lr'), trainIris('nb')];
    // A frozen clock: the history's order must come from the writes, not from the time passing.
    registry = new ModelRegistry(store, validator, () => now);
    routing = new RoutingStore(store, registry, validator, () => now);
    // v1-v6: iris models of the same schema.
    for (let i = 0; i < 6; i++)
      await registry.register('iris', i % 2 ? nb.onnx : lr.onnx, (i % 2 ? nb : lr).manifest, { actor: 'test' });
  });
  afterAll(() => s3.close());

  describe('versions that cannot take traffic', () => {
    it('refuses a canary or shadow while the model has no champion, and writes nothing', async () => {
      await expect(routing.startCanary('iris', 2, { ...alice, weight: 10 })).rejects.toThrow(
        new RoutingRefusedError(
          'iris has no champion yet: a canary is compared with the champion, so promote a version first',
        ),
      );
      await expect(routing.startShadow('iris', 2, alice)).rejects.toThrow(RoutingRefusedError);
      expect(await routing.read('iris')).toBeUndefined();
      await registry.promote('iris', 1, { actor: 'test', reason: 'first champion' });
    });

    it('refuses an unknown model or version, and the champion itself', async () => {
      await expect(routing.startCanary('tulips', 1, { ...alice, weight: 10 })).rejects.toThrow(
        /^unknown model "tulips": it cannot be a canary$/,
      );
      await expect(routing.startCanary('iris', 99, { ...alice, weight: 10 })).rejects.toThrow(
        /^model "iris" has no version 99: it cannot be a canary$/,
      );
      await expect(routing.startCanary('iris', 99, { ...alice, weight: 10 })).rejects.toThrow(RoutingRefusedError);
      await expect(routing.startShadow('iris', 1, alice)).rejects.toThrow(
        new RoutingRefusedError('iris v1 is the champion: it cannot also be a shadow'),
      );
    });

    it("refuses a version whose schema differs from the champion's, naming the differences", async () => {
      // Without its baseline, which names the old feature (the registry would refuse that instead).
      const renamed = {
        ...lr.manifest,
        baseline: undefined,
        features: lr.manifest.features.map((f) => (f.name === 'sepal_length' ? { ...f, name: 'sepal_len' } : f)),
      };
      const { version } = await registry.register('iris', lr.onnx, renamed, {
        actor: 'test',
        allowSchemaChange: { reason: 'test' },
      });
      const refused = routing.startCanary('iris', version, { ...alice, weight: 10 });
      await expect(refused).rejects.toThrow(RoutingRefusedError);
      await expect(refused).rejects.toThrow(
        `iris v${version}'s features differ from champion v1's: missing sepal_length (numeric); extra sepal_len (numeric); the champion's clients would fail on it as a canary`,
      );
    });

    it('refuses a version whose model file was changed or does not load', async () => {
      const garbled = await registry.register('iris', lr.onnx, lr.manifest, { actor: 'test' });
      await store.put(versionKey('iris', garbled.version, 'model.onnx'), 'not a model');
      await expect(routing.startCanary('iris', garbled.version, { ...alice, weight: 10 })).rejects.toThrow(
        /^iris v\d+'s model\.onnx \(sha256 [0-9a-f]{12}\) is not the file its manifest names/,
      );

      // Bytes and manifest that agree, but the bytes are half a model: the validator refuses them.
      const truncated = lr.onnx.slice(0, Math.floor(lr.onnx.length / 2));
      const broken = await registry.register('iris', lr.onnx, lr.manifest, { actor: 'test' });
      await store.put(versionKey('iris', broken.version, 'model.onnx'), truncated);
      await store.put(
        versionKey('iris', broken.version, 'manifest.json'),
        encodeJson({ ...broken.manifest, sha256: sha256Hex(truncated) }),
      );
      const refused = routing.startShadow('iris', broken.version, alice);
      await expect(refused).rejects.toThrow(RoutingRefusedError);
      await expect(refused).rejects.toThrow(
        new RegExp(`^iris v${broken.version} fails to load: model\\.onnx does not load: .*; it cannot be a shadow$`),
      );
      expect(await routing.read('iris')).toBeUndefined();
    });

    it('refuses weights and plans that are not percentages going up', async () => {
      await expect(routing.startCanary('iris', 2, { ...alice, weight: 0 })).rejects.toThrow(
        'the canary weight must be a percentage above 0 and at most 100, got 0',
      );
      await expect(routing.startCanary('iris', 2, alice)).rejects.toThrow('a canary needs a weight or a rollout plan');
      await expect(
        routing.startCanary('iris', 2, { ...alice, plan: { ...DEFAULT_ROLLOUT_PLAN, steps: [50, 10] } }),
      ).rejects.toThrow("the rollout plan's steps must go up, got 50, 10");
      await expect(routing.startShadow('iris', 2, { ...alice, sample: 101 })).rejects.toThrow(RangeError);
    });
  });

  describe('canaries', () => {
    it('starts a manual canary over the champion, without a rollout request', async () => {
      const started = await routing.startCanary('iris', 2, { ...alice, weight: 10 });
      expect(started).toEqual({
        model: 'iris',
        champion: 1,
        canary: { rolloutId: expect.stringMatching(ROLLOUT_ID), version: 2, weight: 10, startedAt: now.toISOString() },
        updatedAt: now.toISOString(),
        actor: 'alice',
        reason: alice.reason,
      });
      expect(await document()).toEqual(started);
      expect(await store.list(rolloutsPrefix('iris'))).toEqual([]);
    });

    it('refuses a second canary, naming the running one', async () => {
      const running = (await document())?.canary;
      await expect(routing.startCanary('iris', 3, { ...alice, weight: 20 })).rejects.toThrow(
        new RoutingConflictError(
          `iris already has a canary: v2 at 10% (rollout ${running?.rolloutId}); abort it first`,
        ),
      );
    });

    it('aborts: the canary is gone, challenger points at it with the reason; a second abort is a no-op', async () => {
      const { rolloutId } = (await document())?.canary ?? {};
      const aborted = await routing.abortCanary('iris', { actor: 'oncall', reason: 'error rate up' });
      expect(aborted).toEqual({
        aborted: true,
        document: expect.objectContaining({ champion: 1, actor: 'oncall', reason: 'error rate up' }),
      });
      expect(aborted.document).not.toHaveProperty('canary');
      expect(await champion('challenger')).toBe(2);
      expect((await registry.history('iris', 'challenger')).at(-1)).toMatchObject({
        actor: 'oncall',
        reason: `canary ${rolloutId} aborted: error rate up`,
      });
      expect(await champion()).toBe(1);
      expect(await routing.abortCanary('iris', { actor: 'oncall', reason: 'again' })).toEqual({
        aborted: false,
        document: aborted.document,
      });
    });

    it('with a plan: starts at the first step and writes the rollout request after the document', async () => {
      const started = await routing.startCanary('iris', 3, { ...alice, plan: DEFAULT_ROLLOUT_PLAN });
      expect(started.canary).toMatchObject({ version: 3, weight: 10, step: 0, plan: DEFAULT_ROLLOUT_PLAN });
      const rolloutId = started.canary?.rolloutId ?? '';
      const request = await store.get(rolloutRequestKey('iris', rolloutId));
      expect(JSON.parse(Buffer.from(request?.body ?? []).toString())).toEqual({
        model: 'iris',
        rolloutId,
        version: 3,
        champion: 1,
        plan: DEFAULT_ROLLOUT_PLAN,
        requestedAt: started.updatedAt,
        actor: 'alice',
        reason: alice.reason,
      } satisfies RolloutRequest);
      expect(await store.list(rolloutsPrefix('iris'))).toHaveLength(1);
    });

    it("moves the weight through the plan's steps for its own rollout only", async () => {
      const rolloutId = (await document())?.canary?.rolloutId ?? '';
      expect(
        (await routing.setCanaryWeight('iris', rolloutId, 1, { actor: 'rollout', reason: 'step 0 passed' })).canary,
      ).toMatchObject({ weight: 50, step: 1 });
      const changes = (await routing.history('iris')).length;
      expect(
        (await routing.setCanaryWeight('iris', rolloutId, 1, { actor: 'rollout', reason: 'retried' })).canary,
      ).toMatchObject({ weight: 50, step: 1 });
      expect(await routing.history('iris')).toHaveLength(changes);
      await expect(
        routing.setCanaryWeight('iris', 'iris-20250101T000000Z-abcdef', 2, { actor: 'rollout', reason: 'old run' }),
      ).rejects.toThrow(RolloutAbortedError);
      await expect(
        routing.setCanaryWeight('iris', rolloutId, 3, { actor: 'rollout', reason: 'no such step' }),
      ).rejects.toThrow(new RoutingConflictError(`the plan of rollout ${rolloutId} has steps 0-2, not 3`));
    });

    it('promotes only over the champion the canary started against', async () => {
      const rolloutId = (await document())?.canary?.rolloutId ?? '';
      await registry.promote('iris', 4, { actor: 'bob', reason: 'hotfix' });
      const refused = routing.promoteCanary('iris', { actor: 'rollout', reason: 'all steps passed' }, { rolloutId });
      await expect(refused).rejects.toThrow(AliasMovedError);
      await expect(refused).rejects.toThrow('alias "champion" points at v4, not v1 as the caller expected');
      expect((await document())?.canary?.rolloutId).toBe(rolloutId);
      await registry.promote('iris', 1, { actor: 'bob', reason: 'hotfix reverted' });

      await expect(routing.promoteCanary('iris', alice, { rolloutId: 'iris-20250101T000000Z-abcdef' })).rejects.toThrow(
        RolloutAbortedError,
      );
      const promoted = await routing.promoteCanary(
        'iris',
        { actor: 'rollout', reason: 'all steps passed' },
        { rolloutId },
      );
      expect(promoted).toMatchObject({ version: 3, previousChampion: 1, document: { champion: 3, actor: 'rollout' } });
      expect(promoted.document).not.toHaveProperty('canary');
      expect(await champion()).toBe(3);
      expect((await registry.history('iris', 'champion')).at(-1)).toMatchObject({
        version: 3,
        previousVersion: 1,
        reason: 'all steps passed',
      });
      await expect(routing.promoteCanary('iris', alice)).rejects.toThrow(
        new RoutingConflictError('iris has no canary to promote'),
      );
      await expect(routing.setCanaryWeight('iris', rolloutId, 2, alice)).rejects.toThrow(RolloutAbortedError);
    });

    it('a rollout request that cannot be written takes its canary out again (nothing would judge it); a retried request is written once', async () => {
      const refusing: ObjectStore = {
        get: (key) => store.get(key),
        getIfChanged: (key, etag) => store.getIfChanged(key, etag),
        list: (prefix) => store.list(prefix),
        listPrefixes: (prefix) => store.listPrefixes(prefix),
        delete: (key) => store.delete(key),
        put: (key, body, options) =>
          key.startsWith(rolloutsPrefix('iris'))
            ? Promise.reject(new Error('S3 is down'))
            : store.put(key, body, options),
      };
      const failing = new RoutingStore(refusing, registry, validator, () => now);
      const requests = (await store.list(rolloutsPrefix('iris'))).length;
      await expect(failing.startCanary('iris', 5, { ...alice, plan: DEFAULT_ROLLOUT_PLAN })).rejects.toThrow(
        'S3 is down',
      );
      expect((await document())?.canary).toBeUndefined();
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-abort',
        version: 5,
        reason: expect.stringContaining('the rollout request could not be written: S3 is down'),
      });
      expect(await store.list(rolloutsPrefix('iris'))).toHaveLength(requests);

      const started = await routing.startCanary('iris', 5, { ...alice, plan: DEFAULT_ROLLOUT_PLAN });
      await routing.requestRollout('iris', started, alice);
      expect(await store.list(rolloutsPrefix('iris'))).toHaveLength(requests + 1);
      await routing.abortCanary('iris', { actor: 'test', reason: 'end of test' });
    });
  });

  describe('shadows', () => {
    it('starts one shadow next to a canary, refuses a second, and stops it leaving the canary', async () => {
      expect((await routing.startShadow('iris', 2, { ...alice, sample: 25 })).shadow).toEqual({
        version: 2,
        sample: 25,
        startedAt: now.toISOString(),
      });
      await expect(routing.startShadow('iris', 4, alice)).rejects.toThrow(
        new RoutingConflictError('iris already has a shadow: v2 scoring 25% of requests; stop it first'),
      );
      const withCanary = await routing.startCanary('iris', 4, { ...alice, weight: 5 });
      expect(withCanary).toMatchObject({
        champion: 3,
        canary: { version: 4, weight: 5 },
        shadow: { version: 2, sample: 25 },
      });
      const stopped = await routing.stopShadow('iris', { actor: 'alice', reason: 'seen enough' });
      expect(stopped).toMatchObject({ champion: 3, canary: { version: 4 } });
      expect(stopped).not.toHaveProperty('shadow');
      await expect(routing.stopShadow('iris', alice)).rejects.toThrow(
        new RoutingConflictError('iris has no shadow to stop'),
      );
      expect((await routing.startShadow('iris', 5, alice)).shadow).toMatchObject({ version: 5, sample: 100 });
      await routing.abortCanary('iris', { actor: 'alice', reason: 'done' });
      const document = await routing.stopShadow('iris', alice);
      expect(document).toMatchObject({ model: 'iris', champion: 3 });
      expect(document).not.toHaveProperty('canary');
      expect(document).not.toHaveProperty('shadow');
    });
  });

  it('keeps one history object per change, oldest first, in the order the writes landed', async () => {
    const history = await routing.history('iris');
    expect(
      history.map(
        (c) =>
          `${c.action} v${c.version}${c.weight === undefined ? '' : ` ${c.weight}%`}${c.sample === undefined ? '' : ` sample ${c.sample}%`}`,
      ),
    ).toEqual([
      'canary-start v2 10%',
      'canary-abort v2 0%',
      'canary-start v3 10%',
      'canary-weight v3 50%',
      'canary-promote v3',
      // A rollout request that could not be written, then one that could (aborted at the test's end).
      'canary-start v5 10%',
      'canary-abort v5 0%',
      'canary-start v5 10%',
      'canary-abort v5 0%',
      'shadow-start v2 sample 25%',
      'canary-start v4 5%',
      'shadow-stop v2 sample 0%',
      'shadow-start v5 sample 100%',
      'canary-abort v4 0%',
      'shadow-stop v5 sample 0%',
    ]);
    // The clock is frozen: every change is still stamped strictly after the one before it.
    history.slice(1).forEach((c, i) => expect(Date.parse(c.at)).toBeGreaterThan(Date.parse(history[i].at)));
    expect(history[1]).toMatchObject({
      actor: 'oncall',
      reason: 'error rate up',
      champion: 1,
      rolloutId: expect.stringMatching(ROLLOUT_ID),
    });
    // A promotion records the champion it replaced; the other changes the champion they were made over.
    expect(history[4]).toMatchObject({ action: 'canary-promote', actor: 'rollout', champion: 1 });
    expect(history[9]).toMatchObject({ action: 'shadow-start', champion: 3 });
  });

  it('throws CorruptRoutingError for a routing document that is not one', async () => {
    await store.put(routingKey('broken'), '{"model":"broken","canary":{"weight":"lots"}}');
    await expect(routing.read('broken')).rejects.toThrow(CorruptRoutingError);
    await expect(routing.startCanary('broken', 2, { ...alice, weight: 10 })).rejects.toThrow(
      /^registry\/broken\/routing\.json is not a routing document: /,
    );
  });

  describe('races (these need the server to enforce conditional writes)', () => {
    it('lets exactly one of 5 concurrent canary starts win', async () => {
      const candidates = [1, 2, 4, 5, 6];
      const results = await Promise.allSettled(
        candidates.map((v) => routing.startCanary('iris', v, { actor: `pipeline-${v}`, reason: 'race', weight: 10 })),
      );
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(4);
      lost.forEach((error) => expect(error).toBeInstanceOf(RoutingConflictError));
      expect((await document())?.canary).toEqual(won[0].canary);
      expect((await routing.history('iris')).filter((c) => c.reason === 'race')).toHaveLength(1);
      await routing.abortCanary('iris', alice);
    });

    it('lets an abort win over weight changes racing it; the rollout then gets RolloutAbortedError', async () => {
      for (let round = 0; round < 3; round++) {
        const { canary } = await routing.startCanary('iris', 2, { ...alice, plan: DEFAULT_ROLLOUT_PLAN });
        const rolloutId = canary?.rolloutId ?? '';
        const step = (n: number) =>
          routing.setCanaryWeight('iris', rolloutId, n, { actor: 'rollout', reason: `step ${n}` });
        const [first, abort, second] = await Promise.allSettled([
          step(1),
          routing.abortCanary('iris', { actor: 'oncall', reason: `round ${round}` }),
          step(2),
        ]);
        expect(abort).toEqual({ status: 'fulfilled', value: expect.objectContaining({ aborted: true }) });
        // A weight change lands before the abort, or finds its rollout gone: never anything else.
        const refusals = [first, second].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(refusals.filter((e) => !(e instanceof RolloutAbortedError))).toEqual([]);
        expect(await document()).not.toHaveProperty('canary');
        await expect(step(2)).rejects.toThrow(RolloutAbortedError);
        await expect(routing.promoteCanary('iris', alice, { rolloutId })).rejects.toThrow(RolloutAbortedError);
      }
    });

    it('undoes a promotion that slipped in before the abort: the champion goes back', async () => {
      const { canary } = await routing.startCanary('iris', 5, { ...alice, weight: 50 });
      // What a promoteCanary that moved the champion, but has not updated the document yet, leaves.
      await registry.promote('iris', 5, { actor: 'rollout', reason: 'all steps passed', ifCurrentVersion: 3 });
      expect(await routing.abortCanary('iris', { actor: 'oncall', reason: 'stop it' })).toMatchObject({
        aborted: true,
      });
      expect(await champion()).toBe(3);
      expect(await champion('challenger')).toBe(5);
      expect((await registry.history('iris', 'champion')).at(-1)).toMatchObject({
        version: 3,
        previousVersion: 5,
        reason: `canary ${canary?.rolloutId} aborted: stop it`,
      });
    });

    it('lets an abort that lands during a promotion win: the champion goes back and the promotion throws', async () => {
      const aborter = new RoutingStore(store, registry, validator, () => now);
      // Aborts right after the promotion has moved the champion, before it updates the document.
      class AbortedMidway extends ModelRegistry {
        override async promote(...args: Parameters<ModelRegistry['promote']>) {
          const record = await super.promote(...args);
          if (args[2].alias === undefined && args[2].actor === 'rollout')
            await aborter.abortCanary('iris', { actor: 'oncall', reason: 'abort wins' });
          return record;
        }
      }
      const racing = new RoutingStore(store, new AbortedMidway(store, validator, () => now), validator, () => now);
      const { canary } = await racing.startCanary('iris', 6, { ...alice, weight: 50 });
      await expect(
        racing.promoteCanary(
          'iris',
          { actor: 'rollout', reason: 'all steps passed' },
          { rolloutId: canary?.rolloutId },
        ),
      ).rejects.toThrow(
        new RolloutAbortedError(
          `the canary v6 of iris (rollout ${canary?.rolloutId}) was aborted or replaced while it was being promoted: the champion stays v3`,
        ),
      );
      expect(await champion()).toBe(3);
      expect(await champion('challenger')).toBe(6);
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-abort',
        version: 6,
        reason: 'abort wins',
      });
    });
  });
});
