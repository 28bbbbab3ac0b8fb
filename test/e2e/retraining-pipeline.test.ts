import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { runRegistryCli } from '../../core/registry/cli';
import { ModelRegistry } from '../../core/registry/registry';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import type { StepRequest } from '../../core/pipeline/contract';
import { PIPELINE_METRICS, type PipelineMetricName } from '../../lambdas/pipeline/metrics';
import { createStepRunner } from '../../lambdas/pipeline/runner';
import { memoryRecorder } from '../../lambdas/shared/metrics';
import { executionNameFor, LocalExecutions } from '../../local/pipeline-executions';
import { SNS_PUBLISH, synthesisedPipeline } from '../../local/local-pipeline';
import { NO_MANAGED_TRAINING } from '../helpers/lambda-only';
import type { RunResult } from '../../local/state-machine';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { ai4iMoreReadings } from '../helpers/more-readings';

/**
 * The state machine definition CDK synthesises, executed by a real ASL interpreter, with its
 * Lambda task bound to the real step handlers over a real S3 server, real training and the real
 * registry: upload -> validate -> train -> champion vs challenger -> gate -> register/promote.
 * On ai4i2020 the algorithms differ clearly on macro F1 (nb < lr < gbdt), so "worse" and
 * "better" are real models, not stubs.
 */

const AI4I = readFileSync(join(__dirname, '../../training/datasets/ai4i2020.csv'));

describe('retraining pipeline: the synthesised definition, run end to end', () => {
  let store: TestS3;
  let scratch: string;
  let registry: ModelRegistry;
  let executions: LocalExecutions;
  const notices: { Subject?: string }[] = [];
  const specs = new Map<string, ModelSpec>();
  const metrics = memoryRecorder<PipelineMetricName>();
  const values = (name: PipelineMetricName) => metrics.records.filter((r) => r.name === name);
  const base = loadModelSpecs(join(__dirname, '../../config/models')).find((s) => s.name === 'ai4i2020') as ModelSpec;
  /** Which algorithms the next run trains: the spec is read at run time, as in AWS. */
  const train = (algorithms: ModelSpec['training']['algorithms']) =>
    specs.set('ai4i2020', { ...base, training: { ...base.training, algorithms }, gate: { ...base.gate, floor: 0.5 } });

  beforeAll(async () => {
    store = await startTestS3(['data', 'models']);
    scratch = mkdtempSync(join(tmpdir(), 'pipeline-e2e-'));
    const modelStore = store.store('models');
    registry = new ModelRegistry(modelStore, new OnnxModelValidator());
    const steps = createStepRunner({
      dataStore: store.store('data'),
      modelStore,
      registry,
      specs,
      clock: () => new Date(),
      tmpDir: scratch,
      dataBucket: 'data',
      recorder: metrics,
    });

    // The definition MlopsPipeline ships, as the local platform synthesises it.
    const { definition, functionArn } = synthesisedPipeline([base]);
    executions = new LocalExecutions(definition, {
      taskHandlers: {
        [functionArn]: (payload) => steps(payload as unknown as StepRequest),
        ...NO_MANAGED_TRAINING,
        [SNS_PUBLISH]: async (params) => {
          notices.push(params as { Subject?: string });
          return { MessageId: String(notices.length) };
        },
      },
    });
  });

  afterAll(async () => {
    await store.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Uploads like `aws s3 cp`, then delivers the S3 event as EventBridge would. */
  async function upload(file: string, body: Uint8Array | string): Promise<RunResult> {
    const key = `incoming/ai4i2020/${file}`;
    const { etag } = await store.store('data').put(key, body);
    const started = executions.start(
      { trigger: 'upload', bucket: 'data', key, etag },
      executionNameFor({ bucket: 'data', key, etag }),
    );
    if (!started.started) throw new Error(`execution ${started.name} was not started`);
    return started.result;
  }

  const output = (r: RunResult) =>
    (
      r as {
        output: {
          evaluation: { decision: { promote: boolean; reason: string }; champion?: { version: number } };
          registration: { version: number; alias: string };
        };
      }
    ).output;
  const champion = async () => {
    const alias = await registry.resolveAlias('ai4i2020', 'champion');
    return alias === undefined || alias === 'unchanged' ? undefined : alias.record.version;
  };

  test('a first upload creates version 1 and promotes it', async () => {
    train(['lr']);
    const result = await upload('first.csv', AI4I);
    expect(result.status).toBe('SUCCEEDED');
    expect(output(result).registration).toEqual({ version: 1, alias: 'champion', promoted: true });
    expect(await champion()).toBe(1);
    expect(await store.store('data').list('incoming/')).toEqual([]);
    expect((await store.store('data').list('processed/ai4i2020/')).filter((k) => k.endsWith('.csv'))).toHaveLength(1);
  });

  test('a worse candidate is evaluated against the champion on the same holdout and not promoted', async () => {
    train(['nb']);
    const result = await upload('second.csv', ai4iMoreReadings(1));
    expect(result.status).toBe('SUCCEEDED');
    const { evaluation, registration } = output(result);
    expect(evaluation.champion?.version).toBe(1);
    expect(evaluation.decision.promote).toBe(false);
    expect(evaluation.decision.reason).toMatch(/does not beat champion v1/);
    expect(registration).toMatchObject({ version: 2, alias: 'challenger' });
    expect(await champion()).toBe(1);
  });

  test('a better candidate beats the champion by the margin and is promoted', async () => {
    train(['gbdt']);
    const result = await upload('third.csv', ai4iMoreReadings(2));
    expect(result.status).toBe('SUCCEEDED');
    expect(output(result).evaluation.decision.promote).toBe(true);
    expect(output(result).registration).toMatchObject({ version: 3, alias: 'champion' });
    expect(await champion()).toBe(3);
    expect((await registry.getManifest('ai4i2020', 3)).parentVersion).toBe(1);
  });

  test('a malformed file ends in quarantine/ with its report, the run ends Quarantined (not failed), and the champion is untouched', async () => {
    const result = await upload('broken.csv', 'UDI,Type\n1,L\n2,M\n');
    expect(result.status).toBe('SUCCEEDED');
    expect((result as { output: { validation: { status: string } } }).output.validation.status).toBe('quarantined');
    const quarantined = await store.store('data').list('quarantine/ai4i2020/');
    expect(quarantined).toEqual(
      expect.arrayContaining(['quarantine/ai4i2020/broken.csv', 'quarantine/ai4i2020/broken.csv.report.json']),
    );
    expect(await store.store('data').list('incoming/')).toEqual([]);
    expect(await champion()).toBe(3);
    expect(notices.some((n) => /quarantine/i.test(n.Subject ?? ''))).toBe(true);
  });

  test('the same S3 event delivered twice starts one execution', async () => {
    const object = { bucket: 'data', key: 'incoming/ai4i2020/again.csv', etag: '"abc"' };
    const first = executions.start({ trigger: 'upload', ...object }, executionNameFor(object));
    const second = executions.start({ trigger: 'upload', ...object }, executionNameFor(object));
    expect(second).toEqual({ started: false, name: executionNameFor(object) });
    if (!first.started) throw new Error('the first delivery did not start an execution');
    // The object was never uploaded, so the one execution fails in Validate, recorded as such.
    expect((await first.result).status).toBe('FAILED');
  });

  test('every run is tracked under runs/ and listed by npm run registry -- runs', async () => {
    const env = {
      MODEL_BUCKET: 'models',
      AWS_ENDPOINT_URL: store.server.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    };
    const out: string[] = [];
    expect(
      await runRegistryCli(['runs', 'ai4i2020', '--json'], env, { out: (t) => out.push(t), err: (t) => out.push(t) }),
    ).toBe(0);
    const runs = JSON.parse(out.join('')) as {
      status: string;
      summary?: { best: string; registration: { version: number; alias: string }; candidates: unknown[] };
    }[];
    const finished = runs.filter((r) => r.status === 'finished').map((r) => r.summary);
    expect(finished.map((s) => [s?.best, s?.registration.version, s?.registration.alias])).toEqual([
      ['lr', 1, 'champion'],
      ['nb', 2, 'challenger'],
      ['gbdt', 3, 'champion'],
    ]);
    // The duplicate-event run failed in Validate (its object was never uploaded): recorded, not lost.
    expect(runs.filter((r) => r.status === 'failed')).toHaveLength(1);
  });

  test('each run reports its outcome, scores and duration as metrics', () => {
    expect(values(PIPELINE_METRICS.runs).map((r) => r.dimensions.outcome)).toEqual([
      'promoted',
      'rejected',
      'promoted',
    ]);
    expect(values(PIPELINE_METRICS.promoted).map((r) => r.value)).toEqual([1, 0, 1]);
    const candidate = values(PIPELINE_METRICS.candidateScore).map((r) => r.value);
    const champion = values(PIPELINE_METRICS.championScore).map((r) => r.value);
    expect(candidate).toHaveLength(3);
    // Runs 2 and 3 had a champion (v1) scored on their holdout: nb lost to it, gbdt beat it.
    expect(champion).toHaveLength(2);
    expect(candidate[1]).toBeLessThan(champion[0]);
    expect(candidate[2]).toBeGreaterThan(champion[1]);
    expect(
      values(PIPELINE_METRICS.runDuration).every((r) => r.unit === 'Seconds' && r.value > 0 && r.value < 600),
    ).toBe(true);
    expect(values(PIPELINE_METRICS.runDuration)).toHaveLength(3);
    expect(values(PIPELINE_METRICS.quarantinedFiles)).toHaveLength(1);
    expect(values(PIPELINE_METRICS.runFailures)).toHaveLength(1);
  });

  test('in AWS a duplicate event starts a second, unnamed execution: it stops at AlreadyHandled and nothing retrains twice', async () => {
    train(['lr']);
    const key = 'incoming/ai4i2020/fourth.csv';
    const { etag } = await store.store('data').put(key, ai4iMoreReadings(3));
    const event = { trigger: 'upload', bucket: 'data', key, etag };
    const [first, second] = ['delivery-1', 'delivery-2'].map((name) => executions.start(event, name));
    if (!first.started || !second.started) throw new Error('both deliveries should start (different names)');
    const [a, b] = await Promise.all([first.result, second.result]);
    const outcomes = [a, b].map(
      (r) => (r as { output?: { validation?: { status: string }; registration?: { version: number } } }).output,
    );
    expect([a.status, b.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(outcomes.filter((o) => o?.validation?.status === 'duplicate')).toHaveLength(1);
    expect(outcomes.filter((o) => o?.registration).map((o) => o?.registration?.version)).toEqual([4]);
    expect((await registry.listVersions('ai4i2020')).map((v) => v.version)).toEqual([1, 2, 3, 4]);
  });
});
