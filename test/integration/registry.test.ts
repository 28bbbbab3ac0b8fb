import type { ModelManifest } from '../../core/manifest';
import { AliasError } from '../../core/registry/aliases';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry, type RegisteredManifest } from '../../core/registry/registry';
import { RegistrationError, SchemaMismatchError, UnknownModelError } from '../../core/registry/types';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { type ExportedModel, exportModel } from '../../training/export';
import { sha256Hex } from '../../core/hash';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The registry against a real S3 server (s3rver with S3's conditional writes in front), with
 * real trained models and the real ONNX validator. The race tests fail on a server that
 * ignores If-None-Match / If-Match: two writers would then both "win".
 */

function trainIris(algorithm: 'lr' | 'nb'): ExportedModel {
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { label: 'class', algorithms: [algorithm] });
  return exportModel(run, run.best, 'iris', table.sources);
}

describe('model registry on a local S3 server', () => {
  let s3: TestS3;
  let lr: ExportedModel;
  let nb: ExportedModel;
  let now: Date;
  let registry: ModelRegistry;
  const validator = new OnnxModelValidator();
  const later = (minutes: number) => (now = new Date(now.getTime() + minutes * 60_000));

  beforeAll(async () => {
    s3 = await startTestS3(['models']);
    [lr, nb] = [trainIris('lr'), trainIris('nb')];
    now = new Date('2025-06-01T12:00:00.000Z');
    registry = new ModelRegistry(s3.store('models'), validator, () => now);
  });
  afterAll(() => s3.close());

  describe('versions and aliases', () => {
    it('registers versions 1, 2 and 3 with the version, parent and pipeline execution in the manifest', async () => {
      const v1 = await registry.register('iris', lr.onnx, lr.manifest, { actor: 'alice' });
      const v2 = await registry.register('iris', nb.onnx, nb.manifest, {
        actor: 'pipeline:exec-7',
        parentVersion: 1,
        pipelineExecution: 'exec-7',
      });
      const v3 = await registry.register('iris', lr.onnx, lr.manifest, { actor: 'alice', reason: 'retrained' });
      expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3]);
      expect(await registry.getManifest('iris', 2)).toMatchObject({
        name: 'iris',
        version: 2,
        parentVersion: 1,
        pipelineExecution: 'exec-7',
        algorithm: nb.manifest.algorithm,
        sha256: nb.manifest.sha256,
      });
      expect(await registry.getManifest('iris', 3)).toMatchObject({
        registration: { actor: 'alice', reason: 'retrained', registeredAt: now.toISOString() },
      });
      expect(Buffer.from(await registry.getModelBytes('iris', 2)).equals(Buffer.from(nb.onnx))).toBe(true);
    });

    it('lists models and versions with their aliases', async () => {
      expect(await registry.listModels()).toEqual(['iris']);
      later(1);
      await registry.promote('iris', 1, { actor: 'alice', reason: 'first model' });
      const t1 = now;
      later(10);
      await registry.promote('iris', 2, { actor: 'bob', reason: 'better macro F1' });
      const versions = await registry.listVersions('iris');
      expect(versions.map((v) => [v.version, v.algorithm, v.aliases])).toEqual([
        [1, lr.manifest.algorithm, []],
        [2, nb.manifest.algorithm, ['champion']],
        [3, lr.manifest.algorithm, []],
      ]);
      expect(versions[0].metrics.accuracy).toBe(lr.manifest.metrics.holdout.accuracy);

      const history = await registry.history('iris');
      expect(history).toEqual([
        {
          model: 'iris',
          alias: 'champion',
          kind: 'promote',
          version: 1,
          movedAt: t1.toISOString(),
          actor: 'alice',
          reason: 'first model',
        },
        {
          model: 'iris',
          alias: 'champion',
          kind: 'promote',
          version: 2,
          previousVersion: 1,
          movedAt: now.toISOString(),
          actor: 'bob',
          reason: 'better macro F1',
        },
      ]);
    });

    it('resolves an alias with its ETag and answers "unchanged" while it has not moved', async () => {
      const resolved = await registry.resolveAlias('iris', 'champion');
      if (typeof resolved !== 'object') throw new Error(`champion not resolved: ${resolved}`);
      expect(resolved.record).toMatchObject({ version: 2, previousVersion: 1 });
      expect(await registry.resolveAlias('iris', 'champion', resolved.etag)).toBe('unchanged');
      expect(await registry.resolveAlias('iris', 'shadow')).toBeUndefined();
    });

    it('answers which version served at a time between moves', async () => {
      const [first, second] = await registry.history('iris', 'champion');
      const at = (iso: string, deltaMs: number) => new Date(Date.parse(iso) + deltaMs);
      expect(await registry.versionAt('iris', at(first.movedAt, -1))).toBeUndefined();
      expect(await registry.versionAt('iris', at(first.movedAt, 5 * 60_000))).toBe(1);
      expect(await registry.versionAt('iris', at(second.movedAt, 0))).toBe(2);
      expect(await registry.versionAt('iris', at(second.movedAt, 60_000), 'shadow')).toBeUndefined();
    });

    it('rolls back through what served, not back and forth between the last two', async () => {
      later(1);
      await registry.promote('iris', 3, { actor: 'alice', reason: 'retrained' });
      later(1);
      expect(await registry.rollback('iris', { actor: 'oncall', reason: 'error rate up' })).toMatchObject({
        version: 2,
        previousVersion: 3,
      });
      later(1);
      expect(await registry.rollback('iris', { actor: 'oncall', reason: 'still bad' })).toMatchObject({
        version: 1,
        previousVersion: 2,
      });
      await expect(registry.rollback('iris', { actor: 'oncall', reason: 'again' })).rejects.toThrow(AliasError);
      const history = await registry.history('iris', 'champion');
      expect(history.map((m) => `${m.kind} ${m.version}`)).toEqual([
        'promote 1',
        'promote 2',
        'promote 3',
        'rollback 2',
        'rollback 1',
      ]);
      expect(history.at(-1)).toMatchObject({ actor: 'oncall', reason: 'still bad' });
    });

    it('leaves the alias as it is when promoting the version it already points at', async () => {
      const before = (await registry.history('iris')).length;
      expect(await registry.promote('iris', 1, { actor: 'retry', reason: 'pipeline retried' })).toMatchObject({
        version: 1,
        actor: 'oncall',
      });
      expect(await registry.history('iris')).toHaveLength(before);
    });
  });

  describe('refusals', () => {
    const expectRefused = async (model: string, onnx: Uint8Array, manifest: ModelManifest, message: RegExp) => {
      const versionsBefore = (await registry.listVersions('iris')).length;
      await expect(registry.register(model, onnx, manifest, { actor: 'test' })).rejects.toThrow(RegistrationError);
      await expect(registry.register(model, onnx, manifest, { actor: 'test' })).rejects.toThrow(message);
      expect(await registry.listVersions('iris')).toHaveLength(versionsBefore);
    };

    it("refuses a manifest whose sha256 is not the model file's", () =>
      expectRefused('iris', lr.onnx, nb.manifest, /is not the sha256 of model\.onnx/));

    it('refuses a model file that does not load', () => {
      const truncated = lr.onnx.slice(0, Math.floor(lr.onnx.length / 2));
      return expectRefused(
        'iris',
        truncated,
        { ...lr.manifest, sha256: sha256Hex(truncated) },
        /model\.onnx does not load/,
      );
    });

    it("refuses a manifest whose inputs are not the model's, naming both sides", () => {
      const [first, ...rest] = lr.manifest.inputs;
      const renamed = { ...lr.manifest, inputs: [{ ...first, name: 'sepal_len' }, ...rest] };
      return expectRefused(
        'iris',
        lr.onnx,
        renamed,
        /inputs "sepal_len" are not inputs of model\.onnx.*"sepal_length" are not in the manifest/,
      );
    });

    it('refuses a malformed baseline, naming each problem', () => {
      const baseline = lr.manifest.baseline;
      if (!baseline) throw new Error('the trained manifest has no baseline');
      const [first, ...rest] = baseline.features;
      const unsorted = { ...first, edges: first.type === 'numeric' ? [...first.edges].reverse() : [] };
      const broken = {
        ...lr.manifest,
        baseline: { ...baseline, features: [unsorted, ...rest], predictions: { 'Iris-setosa': 1 } },
      };
      return expectRefused(
        'iris',
        lr.onnx,
        broken,
        /^the manifest's baseline is malformed: feature "sepal_length" \(numeric\) edges are not strictly ascending \([\d.]+ then [\d.]+\); predictions lack the classes "Iris-versicolor", "Iris-virginica"$/,
      );
    });

    it('keeps a registered baseline as trained, and registers a manifest without one (trained before baselines, or elsewhere)', async () => {
      expect((await registry.getManifest('iris', 1)).baseline).toEqual(lr.manifest.baseline);
      const { baseline, ...older } = lr.manifest;
      expect(baseline).toBeDefined();
      const registered = await registry.register('elsewhere', lr.onnx, older, { actor: 'test' });
      expect((await registry.getManifest('elsewhere', registered.version)).baseline).toBeUndefined();
    });

    it('refuses a model name that cannot be a key segment', () =>
      expectRefused('Iris Model', lr.onnx, lr.manifest, /model name "Iris Model" is not valid/));

    it('refuses a parent version that does not exist', () =>
      expect(registry.register('iris', lr.onnx, lr.manifest, { actor: 't', parentVersion: 99 })).rejects.toThrow(
        /parent version 99/,
      ));

    it('names the unknown model or version', async () => {
      await expect(registry.promote('tulips', 1, { actor: 't', reason: 'r' })).rejects.toEqual(
        new UnknownModelError('tulips'),
      );
      await expect(registry.promote('iris', 42, { actor: 't', reason: 'r' })).rejects.toEqual(
        new UnknownModelError('iris', 42),
      );
      await expect(registry.getModelBytes('iris', 42)).rejects.toThrow('model "iris" has no version 42');
      await expect(registry.listVersions('tulips')).rejects.toThrow(UnknownModelError);
      await expect(registry.history('tulips')).rejects.toThrow(UnknownModelError);
    });
  });

  describe("schema guard: a version whose features or classes differ from the champion's", () => {
    // The mistake it guards against: the ai4i2020 model registered and promoted as iris.
    let ai4i: ExportedModel;
    const champion = async () => {
      const resolved = await registry.resolveAlias('iris', 'champion');
      return typeof resolved === 'object' ? resolved.record : undefined;
    };
    beforeAll(() => {
      const table = loadDataset(DATASETS.ai4i2020);
      const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.ai4i2020), algorithms: ['nb'] });
      ai4i = exportModel(run, run.best, 'ai4i2020', table.sources);
    });

    it('is not registered under the model, and the error names every difference', async () => {
      expect(await champion()).toMatchObject({ version: 1 });
      const versionsBefore = (await registry.listVersions('iris')).length;
      const attempt = registry.register('iris', ai4i.onnx, ai4i.manifest, { actor: 'dave', reason: 'new model' });
      await expect(attempt).rejects.toThrow(SchemaMismatchError);
      await expect(attempt).rejects.toThrow(
        new RegExp(
          "^the new iris version's features and classes differ from champion v1's: " +
            'missing sepal_length \\(numeric\\), sepal_width \\(numeric\\), petal_length \\(numeric\\), petal_width \\(numeric\\); ' +
            'extra Type \\(categorical\\), Air temperature \\[K\\] \\(numeric\\), .*Tool wear \\[min\\] \\(numeric\\); ' +
            'missing classes Iris-setosa, Iris-versicolor, Iris-virginica; extra classes 0, 1$',
        ),
      );
      expect(await registry.listVersions('iris')).toHaveLength(versionsBefore);
    });

    it('is registered with allowSchemaChange, the change and its reason recorded in the registration (no version number lost)', async () => {
      const reason = 'predictive maintenance replaces iris (ticket 12)';
      const registered = await registry.register('iris', ai4i.onnx, ai4i.manifest, {
        actor: 'dave',
        reason: 'new model',
        allowSchemaChange: { reason },
      });
      expect(registered.version).toBe(4);
      const { registration } = (await registry.getManifest('iris', 4)) as RegisteredManifest;
      expect(registration).toMatchObject({
        actor: 'dave',
        reason: 'new model',
        schemaChange: { championVersion: 1, reason },
      });
      expect(registration.schemaChange?.differences).toMatch(
        /^missing sepal_length \(numeric\), .*; extra Type \(categorical\), .*; extra classes 0, 1$/,
      );
    });

    it("records no schema change when the schema is the champion's, even with allowSchemaChange", async () => {
      const same = await registry.register('iris', nb.onnx, nb.manifest, {
        actor: 'dave',
        allowSchemaChange: { reason: 'just in case' },
      });
      expect(same.manifest.registration.schemaChange).toBeUndefined();
      expect(
        await registry.promote('iris', same.version, {
          alias: 'shadow',
          actor: 'dave',
          reason: 'shadow test',
          allowSchemaChange: { reason: 'just in case' },
        }),
      ).not.toHaveProperty('schemaChange');
    });

    it('is not promoted, to champion or any other alias, and the champion stays', async () => {
      const refused = registry.promote('iris', 4, { actor: 'dave', reason: 'ship it' });
      await expect(refused).rejects.toThrow(SchemaMismatchError);
      await expect(refused).rejects.toThrow(
        /^iris v4's features and classes differ from champion v1's: missing sepal_length \(numeric\), /,
      );
      await expect(
        registry.promote('iris', 4, { alias: 'challenger', actor: 'dave', reason: 'try it' }),
      ).rejects.toThrow(/^iris v4's features and classes differ from champion v1's/);
      expect(await champion()).toMatchObject({ version: 1 });
      expect(await registry.resolveAlias('iris', 'challenger')).toBeUndefined();
    });

    it('is promoted with allowSchemaChange, the move recording the change and why; then the guard is against the new champion', async () => {
      later(1);
      const reason = 'clients switched to the ai4i2020 fields (ticket 12)';
      const moved = await registry.promote('iris', 4, {
        actor: 'dave',
        reason: 'ship it',
        allowSchemaChange: { reason },
      });
      expect(moved).toMatchObject({ version: 4, previousVersion: 1, schemaChange: { championVersion: 1, reason } });
      const last = (await registry.history('iris', 'champion')).at(-1);
      expect(last).toMatchObject({
        kind: 'promote',
        version: 4,
        actor: 'dave',
        reason: 'ship it',
        schemaChange: { championVersion: 1, reason, differences: moved.schemaChange?.differences },
      });
      expect(last?.schemaChange?.differences).toMatch(
        /^missing sepal_length \(numeric\), .*; extra Type \(categorical\), /,
      );
      expect(await champion()).toMatchObject({ version: 4, schemaChange: { championVersion: 1 } });

      await expect(registry.promote('iris', 3, { actor: 'dave', reason: 'back to iris' })).rejects.toThrow(
        /^iris v3's features and classes differ from champion v4's: missing Type \(categorical\), /,
      );
    });

    it('does not stop a rollback (the way back from a bad promote)', async () => {
      later(1);
      expect(await registry.rollback('iris', { actor: 'oncall', reason: 'every request fails' })).toMatchObject({
        version: 1,
        previousVersion: 4,
      });
      expect(await champion()).not.toHaveProperty('schemaChange');
    });

    it('is not checked while the model has no champion', async () => {
      const first = await registry.register('pumps', ai4i.onnx, ai4i.manifest, { actor: 'dave' });
      expect(first.manifest.registration.schemaChange).toBeUndefined();
      expect(
        await registry.promote('pumps', first.version, { actor: 'dave', reason: 'first model' }),
      ).not.toHaveProperty('schemaChange');
      await expect(registry.register('pumps', lr.onnx, lr.manifest, { actor: 'dave' })).rejects.toThrow(
        /^the new pumps version's features and classes differ from champion v1's/,
      );
    });
  });

  describe('races (these need the server to enforce conditional writes)', () => {
    let racing: ModelRegistry;
    beforeAll(() => {
      racing = new ModelRegistry(s3.store('models'), validator);
    });

    it('gives 10 concurrent registrations 10 distinct consecutive versions', async () => {
      const registered = await Promise.all(
        Array.from({ length: 10 }, () => racing.register('race', lr.onnx, lr.manifest, { actor: 'pipeline' })),
      );
      expect(registered.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await racing.listVersions('race')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('loses no move when two promotes of different versions race', async () => {
      for (let round = 0; round < 5; round++) {
        const [a, b] = [2 * round + 1, 2 * round + 2];
        await Promise.all(
          [a, b].map((v) => racing.promote('race', v, { actor: `pipeline-${v}`, reason: `round ${round}` })),
        );
      }
      const history = await racing.history('race', 'champion');
      // Every promote moved the alias once, and each move started from the one before it.
      expect(history).toHaveLength(10);
      history.forEach((move, i) => expect(move.previousVersion).toBe(i === 0 ? undefined : history[i - 1].version));
      const champion = await racing.resolveAlias('race', 'champion');
      expect(typeof champion === 'object' && champion.record.version).toBe(history[9].version);
    });
  });
});
