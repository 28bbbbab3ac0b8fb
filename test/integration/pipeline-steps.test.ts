import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baselineProblems } from '../../core/monitoring/baseline';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { DEFAULT_ROLLOUT_PLAN } from '../../core/registry/routing';
import { RoutingStore } from '../../core/registry/routing-store';
import type {
  CandidateResult,
  EvaluationResult,
  ExecutionInput,
  PrepareResult,
  RegistrationResult,
  ValidationResult,
} from '../../core/pipeline/contract';
import type { StepDeps } from '../../lambdas/pipeline/deps';
import { etagToken } from '../../lambdas/pipeline/keys';
import { createStepRunner, type StepRunner } from '../../lambdas/pipeline/runner';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { rowDigests, splitPart, splitRecord } from '../../training/split';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';
import { irisShifted } from '../helpers/more-readings';

/**
 * The pipeline's steps against a real S3 server, with real training (iris, lr and nb only),
 * the real registry and ONNX validator: run in the order the state machine runs them.
 */

const IRIS = readFileSync(join(__dirname, '../../training/datasets/iris.csv'));
/** iris has 150 rows, 3 of them repeating an earlier row: 147 distinct rows reach processed/. */
const IRIS_DISTINCT_ROWS = 147;

const SPECS_DIR = join(__dirname, '../../config/models');

describe('retraining pipeline steps on a local S3 server', () => {
  let s3: TestS3;
  let deps: StepDeps;
  let run: StepRunner;
  let scratch: string;
  let iris: ModelSpec;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    s3 = await startTestS3(['data', 'models']);
    scratch = mkdtempSync(join(tmpdir(), 'pipeline-steps-'));
    iris = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'iris') as ModelSpec;
    const fast: ModelSpec = { ...iris, training: { ...iris.training, algorithms: ['lr', 'nb'] } };
    const modelStore = s3.store('models');
    deps = {
      dataStore: s3.store('data'),
      modelStore,
      registry: new ModelRegistry(modelStore, new OnnxModelValidator()),
      specs: new Map([['iris', fast]]),
      clock: () => new Date(),
      tmpDir: scratch,
      dataBucket: 'data',
    };
    run = createStepRunner(deps);
  });

  afterAll(async () => {
    process.env = savedEnv;
    await s3.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const upload = async (key: string, body: Uint8Array | string, execution: string): Promise<ExecutionInput> => {
    const { etag } = await deps.dataStore.put(key, body);
    return { model: 'iris', trigger: 'upload', bucket: 'data', key, etag, execution };
  };
  const readJson = async (key: string): Promise<Record<string, unknown>> => {
    const object = await deps.modelStore.get(key);
    if (!object) throw new Error(`${key} is missing`);
    return JSON.parse(Buffer.from(object.body).toString('utf8')) as Record<string, unknown>;
  };

  /** Validate -> Prepare -> Train (Map) -> Evaluate -> Register, as the state machine chains them. */
  async function runPipeline(input: ExecutionInput) {
    const validation = (await run({ step: 'validate', input })) as ValidationResult;
    const prepare = (await run({ step: 'prepare', input: { ...input, validation } })) as PrepareResult;
    const candidates = (await Promise.all(
      prepare.algorithms.map((algorithm) =>
        run({
          step: 'train',
          input: {
            model: input.model,
            runId: prepare.runId,
            dataManifestKey: prepare.dataManifestKey,
            seed: prepare.seed,
            algorithm,
          },
        }),
      ),
    )) as CandidateResult[];
    const evaluation = (await run({
      step: 'evaluate',
      input: { ...input, validation, prepare, candidates },
    })) as EvaluationResult;
    const state = { ...input, validation, prepare, candidates, evaluation };
    const registration = (await run({ step: 'register', input: state })) as RegistrationResult;
    return { validation, prepare, candidates, evaluation, registration, state };
  }

  test('a clean upload trains, registers and promotes v1; the same data again is registered as challenger', async () => {
    const first = await runPipeline(await upload('incoming/iris/iris.csv', IRIS, 'exec-1'));
    expect(first.validation).toMatchObject({ status: 'clean', rows: IRIS_DISTINCT_ROWS, duplicateRows: 3 });
    expect(await deps.dataStore.list('incoming/')).toEqual([]);
    const processed = await deps.dataStore.list('processed/iris/');
    expect(processed).toHaveLength(3); // the copy, its report and its rows' identities
    expect(first.prepare).toMatchObject({
      runId: 'exec-1',
      algorithms: ['lr', 'nb'],
      seed: 42,
      files: 1,
      rows: IRIS_DISTINCT_ROWS,
      dataManifestKey: 'runs/iris/exec-1/data.json',
    });
    const dataManifest = await readJson('runs/iris/exec-1/data.json');
    expect(dataManifest.files).toEqual([
      {
        key: processed.find((k) => k.endsWith('.csv')),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        rows: IRIS_DISTINCT_ROWS,
        bytes: expect.any(Number),
        processedAt: expect.any(String),
        droppedByContract: 0,
      },
    ]);
    expect(first.candidates.map((c) => c.algorithm)).toEqual(['lr', 'nb']);
    expect(await deps.modelStore.list('runs/iris/exec-1/candidates/lr/')).toEqual([
      'runs/iris/exec-1/candidates/lr/manifest.json',
      'runs/iris/exec-1/candidates/lr/model.onnx',
    ]);
    expect(first.evaluation.champion).toBeUndefined();
    expect(first.evaluation.comparison).toMatchObject({
      basis: 'no-champion',
      rowsKey: 'runs/iris/exec-1/comparison-rows.txt',
    });
    expect(first.evaluation.decision.promote).toBe(true);
    expect(first.registration).toEqual({ version: 1, alias: 'champion', promoted: true });
    const manifest = await deps.registry.getManifest('iris', 1);
    expect(manifest.pipelineExecution).toBe('exec-1');
    expect(baselineProblems(manifest.baseline, manifest)).toEqual([]);
    expect(manifest.baseline?.rows).toBe(manifest.split.train);
    expect(manifest.trainingData[0].uri).toMatch(/^s3:\/\/data\/processed\/iris\//);
    const summary = await readJson('runs/iris/exec-1/summary.json');
    expect(summary).toMatchObject({
      best: first.evaluation.best.algorithm,
      registration: first.registration,
      data: { files: dataManifest.files, rows: IRIS_DISTINCT_ROWS },
    });
    expect(summary.candidates).toHaveLength(2);
    expect(manifest.split).toMatchObject({
      scheme: 'row-content-sha256/v1',
      seed: 42,
      fractions: { validation: 0.2, holdout: 0.2 },
    });

    // A retried Register reuses the version this execution registered.
    expect(await run({ step: 'register', input: first.state })).toEqual(first.registration);
    expect((await deps.registry.listVersions('iris')).map((v) => v.version)).toEqual([1]);

    // The same data again, replacing the first file: same rows, same seed, same holdout.
    await deps.dataStore.delete(processed.find((k) => k.endsWith('.csv')) as string);
    const second = await runPipeline(await upload('incoming/iris/iris-again.csv', IRIS, 'exec-2'));
    expect(second.prepare.files).toBe(1);
    expect(second.prepare.dataSha256).not.toBe(first.prepare.dataSha256); // keys are part of the snapshot
    const champion = second.evaluation.champion;
    expect(champion?.version).toBe(1);
    expect(second.evaluation.comparison).toMatchObject({
      basis: 'shared-split',
      rows: first.evaluation.comparison.rows,
    });
    expect(champion?.holdout.macroF1).toBeCloseTo(second.evaluation.candidate.macroF1, 10);
    expect(second.evaluation.decision.promote).toBe(false);
    expect(second.evaluation.decision.reason).toMatch(/does not beat champion v1/);
    expect(second.registration).toEqual({ version: 2, alias: 'challenger', promoted: false });
    const aliases = await Promise.all(['champion', 'challenger'].map((a) => deps.registry.resolveAlias('iris', a)));
    expect(aliases.map((a) => (a && a !== 'unchanged' ? a.record.version : undefined))).toEqual([1, 2]);
    expect((await deps.registry.getManifest('iris', 2)).parentVersion).toBe(1);
  });

  test('an upload of rows the model already has ends as no-new-data, with a run record; new rows are kept, repeated ones dropped', async () => {
    const versions = (await deps.registry.listVersions('iris')).length;
    const input = await upload('incoming/iris/same-content-new-name.csv', IRIS, 'exec-same');
    const result = (await run({ step: 'validate', input })) as ValidationResult;
    expect(result).toEqual({
      status: 'no-new-data',
      reportKey: expect.stringMatching(/-same-content-new-name\.report\.json$/),
      rowsIn: 150,
      duplicateRows: 150,
      runKey: 'runs/iris/exec-same/no-new-data.json',
    });
    expect(await deps.dataStore.list('incoming/')).toEqual([]);
    expect(await deps.dataStore.list('quarantine/iris/same')).toEqual([]);
    expect((await deps.dataStore.list('processed/iris/')).filter((k) => k.includes('same-content'))).toEqual([
      expect.stringMatching(/\.report\.json$/),
    ]);
    expect(await readJson('runs/iris/exec-same/no-new-data.json')).toMatchObject({
      upload: 'incoming/iris/same-content-new-name.csv',
      rowsIn: 150,
      duplicateRows: 150,
      message: expect.stringMatching(/^no new data: all 150 clean row\(s\)/),
    });
    // The same event again (a retry of the step): the same answer, and still no version.
    expect(await run({ step: 'validate', input })).toEqual(result);
    expect((await deps.registry.listVersions('iris')).length).toBe(versions);

    // 50 old rows and 50 new ones (every third line of each, so all three classes): only the new
    // rows reach processed/, once each (iris lines 35 and 38 repeat each other, so 49 of them).
    const lines = IRIS.toString('utf8').trim().split('\n');
    const mixed = [
      ...lines.filter((_, i) => i % 3 === 0),
      ...irisShifted(0.03)
        .split('\n')
        .filter((_, i) => i % 3 === 1),
    ].join('\n');
    const partial = (await run({
      step: 'validate',
      input: await upload('incoming/iris/mixed.csv', mixed, 'exec-mixed'),
    })) as ValidationResult;
    expect(partial).toMatchObject({ status: 'clean', rows: 49, duplicateRows: 51 });
    if (partial.status !== 'clean') throw new Error('not clean');
    const report = JSON.parse(
      Buffer.from((await deps.dataStore.get(partial.reportKey))?.body ?? []).toString(),
    ) as Record<string, number>;
    expect(report).toMatchObject({ rowsOut: 100, rowsKept: 49, duplicatesOfProcessed: 50, duplicatesWithinFile: 1 });
    await deps.dataStore.delete('incoming/iris/mixed.csv'); // validated only; its run would remove it
  });

  test('two runs gated against the same champion: the first replaces it, the second stays a challenger and says why', async () => {
    const evaluated = async (file: string, delta: number, execution: string) => {
      const input = await upload(`incoming/iris/${file}`, irisShifted(delta), execution);
      const validation = (await run({ step: 'validate', input })) as ValidationResult;
      const prepare = (await run({ step: 'prepare', input: { ...input, validation } })) as PrepareResult;
      const item = {
        model: 'iris',
        runId: prepare.runId,
        dataManifestKey: prepare.dataManifestKey,
        seed: prepare.seed,
        algorithm: 'nb',
      };
      const candidates = [(await run({ step: 'train', input: item })) as CandidateResult];
      const evaluation = (await run({
        step: 'evaluate',
        input: { ...input, validation, prepare, candidates },
      })) as EvaluationResult;
      // Both passed the gate (set here: this test is about what Register does with two such runs).
      return {
        ...input,
        validation,
        prepare,
        candidates,
        evaluation: { ...evaluation, decision: { promote: true, reason: 'passed the gate' } },
      };
    };
    const champion = async () => {
      const alias = await deps.registry.resolveAlias('iris', 'champion');
      return alias && alias !== 'unchanged' ? alias.record.version : undefined;
    };
    const before = await champion();
    const [a, b] = [
      await evaluated('race-a.csv', 0.11, 'exec-race-a'),
      await evaluated('race-b.csv', 0.12, 'exec-race-b'),
    ];
    expect([a.evaluation.championAtEvaluation, b.evaluation.championAtEvaluation]).toEqual([before, before]);
    const first = (await run({ step: 'register', input: a })) as RegistrationResult;
    expect(first).toMatchObject({ alias: 'champion', promoted: true });
    const second = (await run({ step: 'register', input: b })) as RegistrationResult;
    expect(second).toMatchObject({
      alias: 'challenger',
      promoted: false,
      note: expect.stringMatching(
        new RegExp(`the champion moved from v${before} to v${first.version} while this run was evaluated`),
      ),
    });
    expect(await champion()).toBe(first.version);
    // A retried Register answers the same, and the run's record is written once.
    expect(await run({ step: 'register', input: b })).toEqual(second);
    expect(await readJson('runs/iris/exec-race-b/summary.json')).toMatchObject({
      comparedWith: before,
      registration: second,
      decision: { promote: false },
    });
  });

  test('a spec with a canary plan: a run that passes the gate starts a rollout instead of moving the champion; a second one while it runs stays a challenger', async () => {
    const plan = { steps: [20, 100], bakeSeconds: 30 };
    const canarySpec: ModelSpec = { ...(deps.specs.get('iris') as ModelSpec), promotion: { canary: plan } };
    const runner = createStepRunner({ ...deps, specs: new Map([['iris', canarySpec]]) });
    const passed = async (file: string, delta: number, execution: string) => {
      const input = await upload(`incoming/iris/${file}`, irisShifted(delta), execution);
      const validation = (await runner({ step: 'validate', input })) as ValidationResult;
      const prepare = (await runner({ step: 'prepare', input: { ...input, validation } })) as PrepareResult;
      const item = {
        model: 'iris',
        runId: prepare.runId,
        dataManifestKey: prepare.dataManifestKey,
        seed: prepare.seed,
        algorithm: 'nb',
      };
      const candidates = [(await runner({ step: 'train', input: item })) as CandidateResult];
      const evaluation = (await runner({
        step: 'evaluate',
        input: { ...input, validation, prepare, candidates },
      })) as EvaluationResult;
      return {
        ...input,
        validation,
        prepare,
        candidates,
        evaluation: { ...evaluation, decision: { promote: true, reason: 'passed the gate' } },
      };
    };
    const aliasVersion = async (alias: string) => {
      const found = await deps.registry.resolveAlias('iris', alias);
      return found && found !== 'unchanged' ? found.record.version : undefined;
    };
    const champion = await aliasVersion('champion');
    const a = await passed('canary-a.csv', 0.21, 'exec-canary-a');
    const first = (await runner({ step: 'register', input: a })) as RegistrationResult;
    expect(first).toMatchObject({
      alias: 'challenger',
      promoted: false,
      canary: { weight: 20, steps: [20, 100], bakeSeconds: 30, rolloutId: expect.stringMatching(/^iris-/) },
    });
    expect(first.note).toBeUndefined();
    expect(await aliasVersion('champion')).toBe(champion);
    expect(await aliasVersion('challenger')).toBe(first.version);
    expect((await deps.registry.history('iris', 'challenger')).at(-1)).toMatchObject({
      version: first.version,
      reason: expect.stringMatching(/rolling out as a canary/),
    });
    const routing = await readJson('registry/iris/routing.json');
    expect(routing).toMatchObject({
      champion,
      canary: {
        version: first.version,
        weight: 20,
        step: 0,
        rolloutId: first.canary?.rolloutId,
        plan: { ...DEFAULT_ROLLOUT_PLAN, ...plan },
      },
    });
    expect(await readJson(`registry/iris/rollouts/${first.canary?.rolloutId}.json`)).toMatchObject({
      version: first.version,
      champion,
      plan: { steps: [20, 100] },
    });
    expect(await readJson('runs/iris/exec-canary-a/summary.json')).toMatchObject({
      decision: { promote: false, reason: expect.stringMatching(/rolling out as a canary: 20% of callers first/) },
      registration: first,
    });
    // A retried Register finds the rollout it started.
    expect(await runner({ step: 'register', input: a })).toEqual(first);

    const b = await passed('canary-b.csv', 0.22, 'exec-canary-b');
    const second = (await runner({ step: 'register', input: b })) as RegistrationResult;
    expect(second).toMatchObject({
      alias: 'challenger',
      promoted: false,
      note: expect.stringMatching(/not rolled out: .*canary/),
    });
    expect(second.canary).toBeUndefined();
    expect((await deps.registry.history('iris', 'challenger')).at(-1)).toMatchObject({
      version: second.version,
      reason: expect.stringMatching(/not rolled out: .*canary/),
    });
    expect((await readJson('registry/iris/routing.json')).canary).toMatchObject({ version: first.version });
    // Leave the model as the other tests expect it: no canary.
    await new RoutingStore(deps.modelStore, deps.registry, new OnnxModelValidator()).abortCanary('iris', {
      actor: 'test',
      reason: 'end of test',
    });
  });

  test('a malformed upload is quarantined with its report; nothing reaches processed/', async () => {
    const before = await deps.dataStore.list('processed/');
    const bad = 'sepal_length,sepal_width\nnot,numbers\n';
    const input = await upload('incoming/iris/broken.csv', bad, 'exec-bad');
    const result = (await run({ step: 'validate', input })) as ValidationResult;
    expect(result).toMatchObject({
      status: 'quarantined',
      quarantineKey: 'quarantine/iris/broken.csv',
      reportKey: 'quarantine/iris/broken.csv.report.json',
    });
    if (result.status !== 'quarantined') throw new Error('not quarantined');
    expect(result.problems.length).toBeGreaterThan(0);
    expect(Buffer.from((await deps.dataStore.get('quarantine/iris/broken.csv'))?.body ?? []).toString()).toBe(bad);
    const report = JSON.parse(Buffer.from((await deps.dataStore.get(result.reportKey))?.body ?? []).toString()) as {
      status: string;
    };
    expect(report.status).toBe('quarantine');
    expect(await deps.dataStore.list('incoming/iris/broken')).toEqual([]);
    expect(await deps.dataStore.list('processed/')).toEqual(before);
    // The same event again: the same answer.
    expect(await run({ step: 'validate', input })).toEqual(result);
    // Another bad file under the same name does not overwrite the first one.
    const other = await upload('incoming/iris/broken.csv', 'a;b\n', 'exec-bad-2');
    const second = (await run({ step: 'validate', input: other })) as ValidationResult;
    expect(second).toMatchObject({
      status: 'quarantined',
      quarantineKey: `quarantine/iris/${etagToken(other.etag ?? '')}-broken.csv`,
    });
    expect(Buffer.from((await deps.dataStore.get('quarantine/iris/broken.csv'))?.body ?? []).toString()).toBe(bad);
    expect(await run({ step: 'validate', input: other })).toEqual(second);
    expect(await run({ step: 'validate', input })).toEqual(result);
  });

  test('validate is idempotent: a redelivered event and a retry after a partial failure give one processed copy', async () => {
    const input = await upload('incoming/iris/twice.csv', irisShifted(0.07), 'exec-twice');
    const first = await run({ step: 'validate', input });
    expect(await run({ step: 'validate', input })).toEqual(first);
    // The upload stays in incoming/ until the run has an outcome (a stop now leaves it for the next start).
    expect(await deps.dataStore.list('incoming/iris/twice')).toEqual(['incoming/iris/twice.csv']);
    expect((await deps.dataStore.list('processed/iris/')).filter((k) => k.endsWith('-twice.csv'))).toHaveLength(1);
    // Another delivery of the same object: handled by the first execution.
    expect(await run({ step: 'validate', input: { ...input, execution: 'exec-twice-2' } })).toEqual({
      status: 'duplicate',
      handledBy: 'exec-twice',
    });
    await deps.dataStore.delete('incoming/iris/twice.csv');
  });

  test('a file uploaded again after its run failed is processed again, not answered as a duplicate', async () => {
    const input = await upload('incoming/iris/after-failure.csv', irisShifted(0.09), 'exec-failed-once');
    expect(await run({ step: 'validate', input })).toMatchObject({ status: 'clean' });
    // That run failed later (say, training timed out): record-failure wrote its record.
    await run({ step: 'record-failure', input: { state: { ...input }, error: { Error: 'States.Timeout' } } });
    // The same bytes uploaded again: another execution takes over the failed run's claim.
    const again = { ...input, execution: 'exec-second-try' };
    expect(await run({ step: 'validate', input: again })).toMatchObject({ status: 'clean', rows: 147 });
    await deps.dataStore.delete('incoming/iris/after-failure.csv');
  });

  test('a scheduled run of a model with no data yet ends as no-data, not as a failure', async () => {
    const sentiment = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'sentiment') as ModelSpec;
    const runner = createStepRunner({ ...deps, specs: new Map([['sentiment', sentiment]]) });
    expect(
      await runner({ step: 'validate', input: { model: 'sentiment', trigger: 'schedule', execution: 'e' } }),
    ).toEqual({ status: 'no-data' });
  });

  test('validate skips runs without an upload and refuses keys outside incoming/<model>/', async () => {
    expect(await run({ step: 'validate', input: { model: 'iris', trigger: 'schedule', execution: 'e' } })).toEqual({
      status: 'skipped',
    });
    await expect(
      run({ step: 'validate', input: { model: 'iris', trigger: 'upload', key: 'other/iris.csv', execution: 'e' } }),
    ).rejects.toThrow(/incoming\/<model>\/<file>/);
    await expect(
      run({
        step: 'validate',
        input: { model: 'iris', trigger: 'upload', bucket: 'other', key: 'incoming/iris/a.csv', execution: 'e' },
      }),
    ).rejects.toThrow(/data bucket "data"/);
    await expect(
      run({
        step: 'validate',
        input: { model: 'iris', trigger: 'upload', key: 'incoming/iris/gone.csv', execution: 'e' },
      }),
    ).rejects.toThrow(/no etag/);
  });

  test('an upload for a model with no spec, or outside a model folder, is quarantined once with the reason; a folder marker is ignored', async () => {
    const wine = await upload('incoming/wine/a.csv', 'x,y\n1,2\n', 'exec-wine');
    const result = (await run({ step: 'validate', input: { ...wine, model: 'wine' } })) as ValidationResult;
    expect(result).toEqual({
      status: 'quarantined',
      quarantineKey: 'quarantine/wine/a.csv',
      reportKey: 'quarantine/wine/a.csv.report.json',
      problems: [
        'there is no model spec for "wine" (known models: iris); add config/models/wine.json and upload again',
      ],
    });
    expect(await deps.dataStore.list('incoming/wine/')).toEqual([]);
    // The same event again, or another delivery: answered from the quarantine, not a second failure.
    expect(await run({ step: 'validate', input: { ...wine, model: 'wine' } })).toEqual(result);
    expect(await run({ step: 'validate', input: { ...wine, model: 'wine', execution: 'exec-wine-2' } })).toEqual({
      status: 'duplicate',
      handledBy: 'exec-wine',
    });

    const loose = await upload('incoming/loose.csv', 'x,y\n1,2\n', 'exec-loose');
    expect(await run({ step: 'validate', input: { ...loose, model: 'loose.csv' } })).toMatchObject({
      status: 'quarantined',
      quarantineKey: 'quarantine/_unsorted/loose.csv',
      problems: ["incoming/loose.csv is not under a model's folder: upload to incoming/<model>/loose.csv"],
    });

    for (const key of ['incoming/', 'incoming/iris/']) {
      expect(
        await run({
          step: 'validate',
          input: {
            model: 'iris',
            trigger: 'upload',
            bucket: 'data',
            key,
            etag: 'd41d8cd98f00b204e9800998ecf8427e',
            execution: 'exec-folder',
          },
        }),
      ).toEqual({
        status: 'ignored',
        reason: `${key} is a folder marker, not a data file`,
      });
    }
    expect(await deps.dataStore.list('claims/iris/d41d')).toEqual([]);
  });

  test('record-failure keeps the error and the state in failure.json', async () => {
    const state = { model: 'iris', trigger: 'manual', execution: 'exec-failed', prepare: { runId: 'exec-failed' } };
    const error = { Error: 'DataError', Cause: JSON.stringify({ errorMessage: 'too few rows' }) };
    expect(await run({ step: 'record-failure', input: { state, error } })).toEqual({
      failureKey: 'runs/iris/exec-failed/failure.json',
    });
    expect(await readJson('runs/iris/exec-failed/failure.json')).toMatchObject({
      error: { error: 'DataError', cause: { errorMessage: 'too few rows' } },
      state,
    });
  });

  test('prepare refuses a model without processed data', async () => {
    const sentiment = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'sentiment') as ModelSpec;
    const runner = createStepRunner({ ...deps, specs: new Map([['sentiment', sentiment]]) });
    await expect(
      runner({ step: 'prepare', input: { model: 'sentiment', trigger: 'manual', execution: 'e' } }),
    ).rejects.toThrow(/no training data for model "sentiment"/);
  });

  test('prepare refuses data larger than one training step can take, before any candidate, naming the sizes and the fix', async () => {
    // iris's processed data (from the tests above) on a function far too small for it: 128 MB
    // cannot hold training's base footprint (training-capacity.json), so no size fits.
    const runner = createStepRunner({ ...deps, resources: { memoryMb: 128, timeoutSeconds: 900 } });
    const failure = runner({
      step: 'prepare',
      input: { model: 'iris', trigger: 'manual', execution: 'exec-too-large' },
    });
    await expect(failure).rejects.toMatchObject({ name: 'DatasetTooLargeError' });
    await expect(failure).rejects.toThrow(
      /too large for one training step: \d[\d,]* rows x 4 feature column\(s\) = [\d,]+ cells; at 128 MB one step trains lr at most 0 \(128 MB of memory\).*raise platform\.pipeline\.memorySize/,
    );
    expect(await deps.modelStore.get('runs/iris/exec-too-large/data.json')).toBeUndefined();
    // The same data at the default memory goes through.
    await expect(
      run({ step: 'prepare', input: { model: 'iris', trigger: 'manual', execution: 'exec-fits' } }),
    ).resolves.toMatchObject({ algorithms: ['lr', 'nb'] });
  });

  test('a champion whose features are not in the data is unusable: the gate promotes on the floor alone', async () => {
    const spec: ModelSpec = { ...iris, name: 'iris2', training: { ...iris.training, algorithms: ['nb'] } };
    const runner = createStepRunner({ ...deps, specs: new Map([['iris2', spec]]) });
    // v1 of iris2 was trained on data whose petal_width column was called petal_w.
    const table = loadDataset(DATASETS.iris);
    const renamed = { ...table, columns: table.columns.map((c) => (c === 'petal_width' ? 'petal_w' : c)) };
    const old = trainCandidates(renamed, { label: 'class', algorithms: ['nb'] });
    const exported = exportModel(old, old.best, 'iris2', renamed.sources);
    await deps.registry.register('iris2', exported.onnx, exported.manifest, { actor: 'test' });
    await deps.registry.promote('iris2', 1, { actor: 'test', reason: 'first' });

    const input: ExecutionInput = { ...(await upload('incoming/iris2/new.csv', IRIS, 'exec-renamed')), model: 'iris2' };
    await runner({ step: 'validate', input });
    const prepare = (await runner({ step: 'prepare', input })) as PrepareResult;
    const candidates = [
      (await runner({
        step: 'train',
        input: {
          model: 'iris2',
          runId: prepare.runId,
          dataManifestKey: prepare.dataManifestKey,
          seed: prepare.seed,
          algorithm: 'nb',
        },
      })) as CandidateResult,
    ];
    const evaluation = (await runner({
      step: 'evaluate',
      input: { ...input, prepare, candidates },
    })) as EvaluationResult;
    expect(evaluation.champion).toBeUndefined();
    expect(evaluation.decision.promote).toBe(true);
    expect(evaluation.decision.reason).toMatch(
      /champion v1 has no usable macroF1 \(its features petal_w are not in the data\)/,
    );
    const registration = await runner({ step: 'register', input: { ...input, prepare, candidates, evaluation } });
    expect(registration).toEqual({ version: 2, alias: 'champion', promoted: true });
  });

  test('a champion split another way is judged only on rows added after it was registered, or not at all', async () => {
    const spec: ModelSpec = { ...iris, name: 'iris3', training: { ...iris.training, algorithms: ['nb'] } };
    const later = (seconds: number) =>
      createStepRunner({
        ...deps,
        specs: new Map([['iris3', spec]]),
        clock: () => new Date(Date.now() + seconds * 1000),
      });
    const steps = async (runner: StepRunner, input: ExecutionInput) => {
      await runner({ step: 'validate', input });
      const prepare = (await runner({ step: 'prepare', input })) as PrepareResult;
      const item = {
        model: 'iris3',
        runId: prepare.runId,
        dataManifestKey: prepare.dataManifestKey,
        seed: prepare.seed,
        algorithm: 'nb',
      };
      const candidates = [(await runner({ step: 'train', input: item })) as CandidateResult];
      return (await runner({ step: 'evaluate', input: { ...input, prepare, candidates } })) as EvaluationResult;
    };
    // Processed before the champion exists.
    await later(-5)({
      step: 'validate',
      input: { ...(await upload('incoming/iris3/old.csv', IRIS, 'exec-old')), model: 'iris3' },
    });
    // A champion from before the content split (no scheme in its manifest), registered now.
    const legacy = trainCandidates(loadDataset(DATASETS.iris), { label: 'class', algorithms: ['nb'] });
    const exported = exportModel(legacy, legacy.best, 'iris3', []);
    const { seed, train, validation, holdout } = exported.manifest.split;
    await deps.registry.register(
      'iris3',
      exported.onnx,
      { ...exported.manifest, split: { seed, train, validation, holdout } },
      { actor: 'test' },
    );
    await deps.registry.promote('iris3', 1, { actor: 'test', reason: 'brought from elsewhere' });

    // Every row predates it: it may have trained on any of them, so it cannot be scored fairly.
    const unfair = await steps(later(0), { model: 'iris3', trigger: 'manual', execution: 'exec-unfair' });
    expect(unfair.comparison).toMatchObject({ basis: 'not-comparable' });
    expect(unfair.champion).toBeUndefined();
    expect(unfair.decision.reason).toMatch(
      /could not be scored fairly \(champion v1 was made with no recorded split scheme.*no rows were added after it was registered\)/,
    );

    // Rows added after it: the comparison uses exactly the holdout rows of that file.
    const fresh = later(5);
    const evaluation = await steps(fresh, {
      ...(await upload('incoming/iris3/new.csv', irisShifted(0.05), 'exec-fresh')),
      model: 'iris3',
    });
    expect(evaluation.comparison.basis).toBe('rows-after-champion');
    expect(evaluation.champion?.version).toBe(1);
    const compared = Buffer.from((await deps.modelStore.get(evaluation.comparison.rowsKey as string))?.body ?? [])
      .toString()
      .trim()
      .split('\n');
    expect(compared).toHaveLength(evaluation.comparison.rows);
    const newRows = irisShifted(0.05)
      .split('\n')
      .map((line) => line.split(','));
    const record = splitRecord(['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'class'], undefined, 42);
    const newHoldout = new Set(
      rowDigests(['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'class'], newRows, record).filter(
        (d) => splitPart(d, 42) === 'holdout',
      ),
    );
    expect(new Set(compared)).toEqual(newHoldout);
    expect(evaluation.decision.reason).toMatch(
      new RegExp(`on the ${compared.length} holdout rows added after it was registered`),
    );
  });

  test('the Lambda handler builds its dependencies from the environment', async () => {
    setQuietHandlerEnv('models');
    Object.assign(process.env, { DATA_BUCKET: 'data', AWS_ENDPOINT_URL: s3.server.endpoint });
    delete process.env.MODEL_SPECS_DIR; // the default: the repository's config/models
    const { handler } = await import('../../lambdas/pipeline/handler');
    expect(await handler({ step: 'validate', input: { model: 'iris', trigger: 'schedule', execution: 'e' } })).toEqual({
      status: 'skipped',
    });
    const input = {
      state: { model: 'iris', trigger: 'schedule', execution: 'exec-handler' },
      error: { Error: 'States.Timeout' },
    };
    expect(await handler({ step: 'record-failure', input })).toEqual({
      failureKey: 'runs/iris/exec-handler/failure.json',
    });
    expect(await readJson('runs/iris/exec-handler/failure.json')).toMatchObject({ error: { error: 'States.Timeout' } });
  });
});
