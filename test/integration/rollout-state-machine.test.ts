import type { VariantStats } from '../../core/rollout/live-gate';
import type { VariantMetricsQuery, VariantWindow } from '../../core/rollout/metrics-query';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { type RolloutPlan, rolloutRequestKey } from '../../core/registry/routing';
import { RoutingStore } from '../../core/registry/routing-store';
import type { S3ObjectStore } from '../../core/s3-object-store';
import { createRolloutRunner } from '../../lambdas/rollout/runner';
import { LocalRollout, type RolloutEvent, type RolloutExecution } from '../../local/rollout-machine';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { join } from 'node:path';

/**
 * The rollout definition `cdk synth` produces, executed by the local ASL interpreter with its
 * Task bound to the real rollout steps over the local S3 server and the real routing store, and
 * started by the S3 server's object-created events as the stack's rule starts it. Only the live
 * metrics are scripted, so every path of the loop is taken on purpose: promote, gate failure,
 * too little traffic, an abort from outside, a broken step, and a stop.
 */

const BUCKET = 'models';
const PLAN: RolloutPlan = {
  steps: [50, 100],
  bakeSeconds: 1,
  minRequests: 100,
  maxExtensions: 1,
  alpha: 0.01,
  maxErrorRateIncrease: 0.01,
  maxP99Increase: 0.2,
};
const HEALTHY: VariantStats = {
  requests: 500,
  serverErrors: 0,
  p99LatencyMs: 10,
  classCounts: { 'Iris-setosa': 170, 'Iris-versicolor': 160, 'Iris-virginica': 170 },
};

class ScriptedMetrics implements VariantMetricsQuery {
  respond: (call: number) => VariantWindow | Error = () => ({ champion: HEALTHY, canary: HEALTHY });
  calls = 0;
  async window(): Promise<VariantWindow> {
    const answer = this.respond(this.calls++);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

jest.setTimeout(60_000);

describe('the rollout state machine, run locally', () => {
  let s3: TestS3;
  let store: S3ObjectStore;
  let registry: ModelRegistry;
  let routing: RoutingStore;
  const metrics = new ScriptedMetrics();
  let rollout: LocalRollout;
  const events: RolloutEvent[] = [];
  const started: RolloutExecution[] = [];

  const champion = async () => {
    const resolved = await registry.resolveAlias('iris', 'champion');
    return typeof resolved === 'object' ? resolved.record.version : undefined;
  };
  const statesOf = (execution: string) =>
    events.flatMap((e) => (e.type === 'state' && e.execution === execution ? [e.state] : []));
  const lastChange = async () => (await routing.history('iris')).at(-1);

  /** Starts a canary with a plan; the request it writes starts the execution through the S3 event. */
  async function startRollout(version: number, plan: RolloutPlan = PLAN): Promise<RolloutExecution> {
    const before = started.length;
    await routing.startCanary('iris', version, { plan, actor: 'test', reason: 'try it' });
    for (let i = 0; i < 100 && started.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const execution = started.at(-1);
    if (!execution || started.length === before) throw new Error('the rollout request started no execution');
    return execution;
  }

  /** The platform's rollout runner over this test's store; a second one is what a restart makes. */
  const newRollout = () =>
    new LocalRollout({
      specs: loadModelSpecs(join(__dirname, '../../config/models')),
      modelBucket: BUCKET,
      runner: createRolloutRunner({ store, routing, metrics, clock: () => new Date() }),
      retryIntervalMs: 10,
      onEvent: (event) => events.push(event),
    });

  beforeAll(async () => {
    s3 = await startTestS3([BUCKET]);
    store = s3.store(BUCKET);
    const table = loadDataset(DATASETS.iris);
    const models = (['lr', 'nb'] as const).map((algorithm) => {
      const run = trainCandidates(table, { label: 'class', algorithms: [algorithm] });
      return exportModel(run, run.best, 'iris', table.sources);
    });
    const validator = new OnnxModelValidator();
    registry = new ModelRegistry(store, validator);
    routing = new RoutingStore(store, registry, validator);
    for (let i = 0; i < 4; i++)
      await registry.register('iris', models[i % 2].onnx, models[i % 2].manifest, { actor: 'test' });
    await registry.promote('iris', 1, { actor: 'test', reason: 'first champion' });
    rollout = newRollout();
    s3.server.onObjectCreated((object) => {
      if (object.etag === undefined) return;
      const execution = rollout.onObjectCreated({ bucket: object.bucket, key: object.key, etag: object.etag });
      if (execution) started.push(execution);
    });
  });
  afterAll(async () => {
    await rollout?.close();
    await s3?.close();
  });
  beforeEach(() => {
    metrics.calls = 0;
    metrics.respond = () => ({ champion: HEALTHY, canary: HEALTHY });
  });

  test('a healthy canary advances through every step and is promoted; the notice says so', async () => {
    const execution = await startRollout(2);
    expect(await execution.result).toMatchObject({
      status: 'SUCCEEDED',
      output: { status: 'promoted', previousChampion: 1 },
    });
    expect(statesOf(execution.name)).toEqual([
      'Begin',
      'Started?',
      'Bake',
      'Judge',
      'Verdict',
      'Advance',
      'Bake',
      'Judge',
      'Verdict',
      'Promote',
      'NotifyPromoted',
      'Promoted',
    ]);
    expect(await champion()).toBe(2);
    expect((await routing.read('iris'))?.document.canary).toBeUndefined();
    expect((await routing.history('iris')).slice(-3).map((c) => [c.action, c.weight])).toEqual([
      ['canary-start', 50],
      ['canary-weight', 100],
      ['canary-promote', undefined],
    ]);
    const notice = events.find((e) => e.type === 'notification' && e.subject === 'Rollout promoted');
    expect(notice).toBeDefined();
    expect(JSON.parse((notice as { message: string }).message)).toMatchObject({
      model: 'iris',
      version: 2,
      outcome: 'promoted',
      execution: execution.name,
    });
  });

  test('a canary that fails the gate is aborted: weight 0, challenger, the reason in the history and the notice', async () => {
    metrics.respond = () => ({ champion: HEALTHY, canary: { ...HEALTHY, serverErrors: 120 } });
    const execution = await startRollout(3);
    expect(await execution.result).toMatchObject({ status: 'SUCCEEDED', output: { status: 'aborted', aborted: true } });
    expect(statesOf(execution.name).slice(-4)).toEqual(['Verdict', 'Abort', 'NotifyAborted', 'Aborted']);
    expect(await champion()).toBe(2);
    expect(await lastChange()).toMatchObject({
      action: 'canary-abort',
      version: 3,
      reason: expect.stringMatching(/^failed the live gate: step 1 of 2 \(50%\) .*server error rate canary 120\/500/),
    });
    const challenger = await registry.resolveAlias('iris', 'challenger');
    expect(typeof challenger === 'object' && challenger.record.version).toBe(3);
  });

  test('too little traffic extends the bake, then aborts once no extension is left', async () => {
    metrics.respond = () => ({ champion: HEALTHY, canary: { ...HEALTHY, requests: 12 } });
    const execution = await startRollout(3);
    await execution.result;
    expect(statesOf(execution.name)).toEqual([
      'Begin',
      'Started?',
      'Bake',
      'Judge',
      'Verdict',
      'Bake',
      'Judge',
      'Verdict',
      'Abort',
      'NotifyAborted',
      'Aborted',
    ]);
    expect(await lastChange()).toMatchObject({
      action: 'canary-abort',
      reason: expect.stringMatching(/^not enough traffic to judge after 1 extension\(s\)/),
    });
  });

  test('an abort from outside during a bake ends the execution as Aborted without touching the routing again', async () => {
    const execution = await startRollout(3, { ...PLAN, bakeSeconds: 2 });
    // During the bake: an abort before Begin has claimed the rollout ends it Superseded instead.
    for (let i = 0; i < 200 && !statesOf(execution.name).includes('Bake'); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(statesOf(execution.name)).toContain('Bake');
    await routing.abortCanary('iris', { actor: 'alice', reason: 'customers complain' });
    const changes = (await routing.history('iris')).length;
    expect(await execution.result).toMatchObject({
      status: 'SUCCEEDED',
      output: { status: 'aborted', reason: expect.stringMatching(/canary-abort by alice at \S+: customers complain$/) },
    });
    expect(statesOf(execution.name).slice(-3)).toEqual(['Verdict', 'NotifyAborted', 'Aborted']);
    expect((await routing.history('iris')).length).toBe(changes);
    expect(metrics.calls).toBe(0);
  });

  test('a second execution for the same request (EventBridge cannot dedupe by name) ends Superseded', async () => {
    const execution = await startRollout(3, { ...PLAN, bakeSeconds: 2 });
    const object = await store.get(execution.key);
    const duplicate = rollout.onObjectCreated({
      bucket: BUCKET,
      key: execution.key,
      etag: `${object?.etag}-redelivered`,
    });
    expect(await duplicate?.result).toMatchObject({
      status: 'SUCCEEDED',
      output: { status: 'superseded', reason: expect.stringMatching(/is already driven by execution/) },
    });
    // The same object version again starts nothing (Step Functions refuses a used name).
    expect(rollout.onObjectCreated({ bucket: BUCKET, key: execution.key, etag: object?.etag ?? '' })).toBeUndefined();
    await routing.abortCanary('iris', { actor: 'test', reason: 'done' });
    await execution.result;
  });

  test('a step that breaks records the failure, takes the canary out and fails the execution', async () => {
    metrics.respond = () => new Error('metrics unreachable');
    const execution = await startRollout(3);
    const rolloutId = execution.key.split('/').pop()?.replace('.json', '') ?? '';
    expect(await execution.result).toEqual({ status: 'FAILED', error: 'Error', cause: 'metrics unreachable' });
    expect(statesOf(execution.name).slice(-2)).toEqual(['RecordFailure', 'RolloutFailed']);
    expect(await store.get(`registry/iris/rollout-runs/${rolloutId}/failure.json`)).toBeDefined();
    expect((await routing.read('iris'))?.document.canary).toBeUndefined();
    expect(await lastChange()).toMatchObject({
      action: 'canary-abort',
      reason: expect.stringMatching(/failed \(Error: metrics unreachable\); the canary is taken out/),
    });
  });

  test('closing stops executions in a bake (StopExecution); the next start resumes the rollout under the same name', async () => {
    const execution = await startRollout(3, { ...PLAN, bakeSeconds: 600 });
    while (!statesOf(execution.name).includes('Bake')) await new Promise((resolve) => setTimeout(resolve, 20));
    const stoppedAt = Date.now();
    await rollout.close();
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'ExecutionAborted' });
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    const canary = (await routing.read('iris'))?.document.canary;
    expect(canary).toMatchObject({ version: 3, weight: 50 });
    expect(rolloutRequestKey('iris', canary?.rolloutId ?? '')).toBe(execution.key);

    // A restart (what local/platform.ts does for a canary with a plan): the same object version, the same
    // execution name, so Begin takes its own claim back and the rollout carries on.
    rollout = newRollout();
    const request = await store.get(execution.key);
    const resumed = rollout.onObjectCreated({ bucket: BUCKET, key: execution.key, etag: request?.etag ?? '' });
    expect(resumed?.name).toBe(execution.name);
    while (statesOf(execution.name).filter((s) => s === 'Bake').length < 2)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const begins = events.filter(
      (e): e is Extract<RolloutEvent, { type: 'step' }> =>
        e.type === 'step' && e.execution === execution.name && e.step === 'begin',
    );
    // Not Superseded: the claim is its own. It carries on at the step the document is at.
    expect(begins.map((e) => e.result)).toEqual([
      expect.objectContaining({ status: 'started', rollout: expect.objectContaining({ step: 0, weight: 50 }) }),
      expect.objectContaining({ status: 'started', rollout: expect.objectContaining({ step: 0, weight: 50 }) }),
    ]);
    await routing.abortCanary('iris', { actor: 'test', reason: 'enough' });
  }, 30_000);
});
