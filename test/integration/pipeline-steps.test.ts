import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import type { CandidateResult, EvaluationResult, ExecutionInput, PrepareResult, RegistrationResult, ValidationResult } from '../../core/pipeline/contract';
import type { StepDeps } from '../../lambdas/pipeline/deps';
import { etagToken } from '../../lambdas/pipeline/keys';
import { createStepRunner, type StepRunner } from '../../lambdas/pipeline/runner';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The pipeline's steps against a real S3 server, with real training (iris, lr and nb only),
 * the real registry and ONNX validator: run in the order the state machine runs them.
 */

const IRIS = readFileSync(join(__dirname, '../../training/datasets/iris.csv'));
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
        run({ step: 'train', input: { model: input.model, runId: prepare.runId, dataKeys: prepare.dataKeys, seed: prepare.seed, algorithm } }),
      ),
    )) as CandidateResult[];
    const evaluation = (await run({ step: 'evaluate', input: { ...input, validation, prepare, candidates } })) as EvaluationResult;
    const state = { ...input, validation, prepare, candidates, evaluation };
    const registration = (await run({ step: 'register', input: state })) as RegistrationResult;
    return { validation, prepare, candidates, evaluation, registration, state };
  }

  test('a clean upload trains, registers and promotes v1; the same data again is registered as challenger', async () => {
    const first = await runPipeline(await upload('incoming/iris/iris.csv', IRIS, 'exec-1'));
    expect(first.validation).toMatchObject({ status: 'clean', rows: 150 });
    expect(await deps.dataStore.list('incoming/')).toEqual([]);
    const processed = await deps.dataStore.list('processed/iris/');
    expect(processed).toHaveLength(2); // the copy and its report
    expect(first.prepare).toMatchObject({ runId: 'exec-1', algorithms: ['lr', 'nb'], seed: 42, dataKeys: processed.filter((k) => k.endsWith('.csv')) });
    expect(first.candidates.map((c) => c.algorithm)).toEqual(['lr', 'nb']);
    expect(await deps.modelStore.list('runs/iris/exec-1/candidates/lr/')).toEqual(['runs/iris/exec-1/candidates/lr/manifest.json', 'runs/iris/exec-1/candidates/lr/model.onnx']);
    expect(first.evaluation.champion).toBeUndefined();
    expect(first.evaluation.decision.promote).toBe(true);
    expect(first.registration).toEqual({ version: 1, alias: 'champion', promoted: true });
    const manifest = await deps.registry.getManifest('iris', 1);
    expect(manifest.pipelineExecution).toBe('exec-1');
    expect(manifest.trainingData[0].uri).toMatch(/^s3:\/\/data\/processed\/iris\//);
    const summary = await readJson('runs/iris/exec-1/summary.json');
    expect(summary).toMatchObject({ best: first.evaluation.best.algorithm, registration: first.registration });
    expect(summary.candidates).toHaveLength(2);

    // A retried Register reuses the version this execution registered.
    expect(await run({ step: 'register', input: first.state })).toEqual(first.registration);
    expect((await deps.registry.listVersions('iris')).map((v) => v.version)).toEqual([1]);

    // The same data again, replacing the first file: same rows, same seed, same holdout.
    await deps.dataStore.delete(first.prepare.dataKeys[0]);
    const second = await runPipeline(await upload('incoming/iris/iris-again.csv', IRIS, 'exec-2'));
    expect(second.prepare.dataKeys).toHaveLength(1);
    expect(second.prepare.dataSha256).not.toBe(first.prepare.dataSha256); // keys are part of the snapshot
    const champion = second.evaluation.champion;
    expect(champion?.version).toBe(1);
    expect(champion?.holdout.macroF1).toBeCloseTo(second.evaluation.best.holdout.macroF1, 10);
    expect(second.evaluation.decision.promote).toBe(false);
    expect(second.evaluation.decision.reason).toMatch(/does not beat champion v1/);
    expect(second.registration).toEqual({ version: 2, alias: 'challenger', promoted: false });
    const aliases = await Promise.all(['champion', 'challenger'].map((a) => deps.registry.resolveAlias('iris', a)));
    expect(aliases.map((a) => (a && a !== 'unchanged' ? a.record.version : undefined))).toEqual([1, 2]);
    expect((await deps.registry.getManifest('iris', 2)).parentVersion).toBe(1);
  });

  test('a malformed upload is quarantined with its report; nothing reaches processed/', async () => {
    const before = await deps.dataStore.list('processed/');
    const bad = 'sepal_length,sepal_width\nnot,numbers\n';
    const input = await upload('incoming/iris/broken.csv', bad, 'exec-bad');
    const result = (await run({ step: 'validate', input })) as ValidationResult;
    expect(result).toMatchObject({ status: 'quarantined', quarantineKey: 'quarantine/iris/broken.csv', reportKey: 'quarantine/iris/broken.csv.report.json' });
    if (result.status !== 'quarantined') throw new Error('not quarantined');
    expect(result.problems.length).toBeGreaterThan(0);
    expect(Buffer.from((await deps.dataStore.get('quarantine/iris/broken.csv'))?.body ?? []).toString()).toBe(bad);
    const report = JSON.parse(Buffer.from((await deps.dataStore.get(result.reportKey))?.body ?? []).toString()) as { status: string };
    expect(report.status).toBe('quarantine');
    expect(await deps.dataStore.list('incoming/')).toEqual([]);
    expect(await deps.dataStore.list('processed/')).toEqual(before);
    // The same event again: the same answer.
    expect(await run({ step: 'validate', input })).toEqual(result);
    // Another bad file under the same name does not overwrite the first one.
    const other = await upload('incoming/iris/broken.csv', 'a;b\n', 'exec-bad-2');
    const second = (await run({ step: 'validate', input: other })) as ValidationResult;
    expect(second).toMatchObject({ status: 'quarantined', quarantineKey: `quarantine/iris/${etagToken(other.etag ?? '')}-broken.csv` });
    expect(Buffer.from((await deps.dataStore.get('quarantine/iris/broken.csv'))?.body ?? []).toString()).toBe(bad);
    expect(await run({ step: 'validate', input: other })).toEqual(second);
    expect(await run({ step: 'validate', input })).toEqual(result);
  });

  test('validate is idempotent: a redelivered event and a retry after a partial failure give one processed copy', async () => {
    const input = await upload('incoming/iris/twice.csv', IRIS, 'exec-twice');
    const first = await run({ step: 'validate', input });
    expect(await run({ step: 'validate', input })).toEqual(first);
    // The original back in place (its copy was written, the delete did not happen).
    await deps.dataStore.put('incoming/iris/twice.csv', IRIS);
    expect(await run({ step: 'validate', input })).toEqual(first);
    expect(await deps.dataStore.list('incoming/')).toEqual([]);
    expect((await deps.dataStore.list('processed/iris/')).filter((k) => k.endsWith('-twice.csv'))).toHaveLength(1);
  });

  test('a scheduled run of a model with no data yet ends as no-data, not as a failure', async () => {
    const sentiment = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'sentiment') as ModelSpec;
    const runner = createStepRunner({ ...deps, specs: new Map([['sentiment', sentiment]]) });
    expect(await runner({ step: 'validate', input: { model: 'sentiment', trigger: 'schedule', execution: 'e' } })).toEqual({ status: 'no-data' });
  });

  test('validate skips runs without an upload and refuses keys outside incoming/<model>/', async () => {
    expect(await run({ step: 'validate', input: { model: 'iris', trigger: 'schedule', execution: 'e' } })).toEqual({ status: 'skipped' });
    await expect(run({ step: 'validate', input: { model: 'iris', trigger: 'upload', key: 'other/iris.csv', execution: 'e' } })).rejects.toThrow(/incoming\/<model>\/<file>/);
    await expect(run({ step: 'validate', input: { model: 'iris', trigger: 'upload', bucket: 'other', key: 'incoming/iris/a.csv', execution: 'e' } })).rejects.toThrow(/data bucket "data"/);
    await expect(run({ step: 'validate', input: { model: 'iris', trigger: 'upload', key: 'incoming/iris/gone.csv', execution: 'e' } })).rejects.toThrow(/no etag/);
    await expect(run({ step: 'validate', input: { model: 'wine', trigger: 'upload', key: 'incoming/wine/a.csv', execution: 'e' } })).rejects.toThrow(/no model spec for model "wine"/);
  });

  test('record-failure keeps the error and the state in failure.json', async () => {
    const state = { model: 'iris', trigger: 'manual', execution: 'exec-failed', prepare: { runId: 'exec-failed' } };
    const error = { Error: 'DataError', Cause: JSON.stringify({ errorMessage: 'too few rows' }) };
    expect(await run({ step: 'record-failure', input: { state, error } })).toEqual({ failureKey: 'runs/iris/exec-failed/failure.json' });
    expect(await readJson('runs/iris/exec-failed/failure.json')).toMatchObject({ error: { error: 'DataError', cause: { errorMessage: 'too few rows' } }, state });
  });

  test('prepare refuses a model without processed data', async () => {
    const sentiment = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'sentiment') as ModelSpec;
    const runner = createStepRunner({ ...deps, specs: new Map([['sentiment', sentiment]]) });
    await expect(runner({ step: 'prepare', input: { model: 'sentiment', trigger: 'manual', execution: 'e' } })).rejects.toThrow(/no training data for model "sentiment"/);
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
    const candidates = [(await runner({ step: 'train', input: { model: 'iris2', runId: prepare.runId, dataKeys: prepare.dataKeys, seed: prepare.seed, algorithm: 'nb' } })) as CandidateResult];
    const evaluation = (await runner({ step: 'evaluate', input: { ...input, prepare, candidates } })) as EvaluationResult;
    expect(evaluation.champion).toBeUndefined();
    expect(evaluation.decision.promote).toBe(true);
    expect(evaluation.decision.reason).toMatch(/champion v1 has no usable macroF1 \(its features petal_w are not in the data\)/);
    const registration = await runner({ step: 'register', input: { ...input, prepare, candidates, evaluation } });
    expect(registration).toEqual({ version: 2, alias: 'champion', promoted: true });
  });

  test('the Lambda handler builds its dependencies from the environment', async () => {
    setQuietHandlerEnv('models');
    Object.assign(process.env, { DATA_BUCKET: 'data', AWS_ENDPOINT_URL: s3.server.endpoint });
    delete process.env.MODEL_SPECS_DIR; // the default: the repository's config/models
    const { handler } = await import('../../lambdas/pipeline/handler');
    expect(await handler({ step: 'validate', input: { model: 'iris', trigger: 'schedule', execution: 'e' } })).toEqual({ status: 'skipped' });
    const input = { state: { model: 'iris', trigger: 'schedule', execution: 'exec-handler' }, error: { Error: 'States.Timeout' } };
    expect(await handler({ step: 'record-failure', input })).toEqual({ failureKey: 'runs/iris/exec-handler/failure.json' });
    expect(await readJson('runs/iris/exec-handler/failure.json')).toMatchObject({ error: { error: 'States.Timeout' } });
  });
});
