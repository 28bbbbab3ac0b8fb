import { rolloutClaimKey, rolloutFailureKey, type RolloutState } from '../../core/rollout/contract';
import type { VariantStats } from '../../core/rollout/live-gate';
import type { VariantMetricsQuery, VariantWindow } from '../../core/rollout/metrics-query';
import { AliasMovedError } from '../../core/registry/aliases';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { type RolloutPlan, rolloutRequestKey } from '../../core/registry/routing';
import { RolloutAbortedError, RoutingStore } from '../../core/registry/routing-store';
import type { S3ObjectStore } from '../../core/s3-object-store';
import { AlarmEventError } from '../../lambdas/rollout/alarm-abort';
import { RolloutRequestError } from '../../lambdas/rollout/begin';
import { createRolloutRunner, RolloutStepRequestError } from '../../lambdas/rollout/runner';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * Every step of the rollout function against the local S3 server (conditional writes enforced),
 * the real routing store and registry and real iris models; only the live metrics are scripted.
 */

const PLAN: RolloutPlan = {
  steps: [10, 50, 100],
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
  readonly calls: { model: string; since: Date; until: Date }[] = [];
  next: VariantWindow = { champion: HEALTHY, canary: HEALTHY };
  async window(model: string, since: Date, until: Date): Promise<VariantWindow> {
    this.calls.push({ model, since, until });
    return this.next;
  }
}

/** What EventBridge delivers when the canary rollback alarm of `model` changes state. */
function alarmEvent(
  model: string,
  state: 'ALARM' | 'OK',
  dimensions: Record<string, string> = { service: 'inference', model, variant: 'canary' },
) {
  return {
    version: '0',
    source: 'aws.cloudwatch',
    'detail-type': 'CloudWatch Alarm State Change',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:CanaryErrors-${model}`],
    detail: {
      alarmName: `CanaryErrors-${model}`,
      state: {
        value: state,
        reason: 'Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).',
        timestamp: '2026-11-30T10:00:00.000+0000',
      },
      previousState: { value: state === 'ALARM' ? 'OK' : 'ALARM' },
      configuration: {
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: 'ServerlessMlops', name: 'VariantServerErrors', dimensions },
              period: 60,
              stat: 'Sum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

describe('rollout steps', () => {
  let s3: TestS3;
  let store: S3ObjectStore;
  let registry: ModelRegistry;
  let routing: RoutingStore;
  let metrics: ScriptedMetrics;
  let run: (event: unknown) => Promise<unknown>;
  const step = <T>(name: string, input: unknown, execution = 'exec-1') =>
    run({ step: name, execution, input }) as Promise<T>;
  const champion = async () => {
    const resolved = await registry.resolveAlias('iris', 'champion');
    return typeof resolved === 'object' ? resolved.record.version : undefined;
  };
  const challenger = async () => {
    const resolved = await registry.resolveAlias('iris', 'challenger');
    return typeof resolved === 'object' ? resolved.record : undefined;
  };
  const canary = async () => (await routing.read('iris'))?.document.canary;

  /** Starts a canary of `version` with PLAN and returns its request key. */
  async function startCanary(version: number): Promise<string> {
    const document = await routing.startCanary('iris', version, { plan: PLAN, actor: 'test', reason: 'try it' });
    return rolloutRequestKey('iris', document.canary?.rolloutId ?? '');
  }

  /** Starts a canary and runs Begin on its request. */
  async function started(version = 2, execution = 'exec-1'): Promise<RolloutState> {
    const key = await startCanary(version);
    const result = await step<{ status: string; rollout: RolloutState }>('begin', { bucket: 'models', key }, execution);
    expect(result.status).toBe('started');
    return result.rollout;
  }

  beforeAll(async () => {
    s3 = await startTestS3(['models']);
    store = s3.store('models');
    const table = loadDataset(DATASETS.iris);
    const models = (['lr', 'nb'] as const).map((algorithm) => {
      const training = trainCandidates(table, { label: 'class', algorithms: [algorithm] });
      return exportModel(training, training.best, 'iris', table.sources);
    });
    const validator = new OnnxModelValidator();
    registry = new ModelRegistry(store, validator);
    routing = new RoutingStore(store, registry, validator);
    for (let i = 0; i < 4; i++)
      await registry.register('iris', models[i % 2].onnx, models[i % 2].manifest, { actor: 'test' });
    await registry.promote('iris', 1, { actor: 'test', reason: 'first champion' });
  });
  afterAll(() => s3?.close());

  beforeEach(() => {
    metrics = new ScriptedMetrics();
    run = createRolloutRunner({ store, routing, metrics, clock: () => new Date() });
  });
  // Each test starts from "no canary".
  afterEach(() => routing.abortCanary('iris', { actor: 'test', reason: 'cleanup' }));

  describe('begin', () => {
    test('builds the state from the routing document and claims the rollout for the execution', async () => {
      const key = await startCanary(2);
      const current = await canary();
      const result = await step('begin', { bucket: 'models', key });
      expect(result).toEqual({
        status: 'started',
        rollout: {
          model: 'iris',
          rolloutId: current?.rolloutId,
          version: 2,
          champion: 1,
          requestKey: key,
          plan: PLAN,
          step: 0,
          weight: 10,
          extensions: 0,
          startedAt: current?.startedAt,
          stepStartedAt: current?.startedAt,
        },
      });
      expect(
        JSON.parse(
          Buffer.from((await store.get(rolloutClaimKey('iris', current?.rolloutId ?? '')))?.body ?? []).toString(),
        ),
      ).toMatchObject({ execution: 'exec-1' });
    });

    test('a second execution for the same request (a repeated S3 event) is superseded; the same execution resumes', async () => {
      const key = await startCanary(2);
      await step('begin', { key }, 'first');
      expect(await step('begin', { key }, 'second')).toMatchObject({
        status: 'superseded',
        reason: expect.stringMatching(/is already driven by execution first \(a repeated S3 event\)$/),
      });
      expect(await step('begin', { key }, 'first')).toMatchObject({ status: 'started' });
    });

    test('resumes at the step the document is at, its window starting at the last change', async () => {
      const rollout = await started();
      await step('advance', { rollout });
      const document = (await routing.read('iris'))?.document;
      const resumed = await step<{ rollout: RolloutState }>('begin', { key: rollout.requestKey });
      expect(resumed.rollout).toMatchObject({ step: 1, weight: 50, stepStartedAt: document?.updatedAt });
    });

    test('a request whose rollout has ended, or that is gone, or is no request at all, is superseded', async () => {
      const key = await startCanary(2);
      await routing.abortCanary('iris', { actor: 'alice', reason: 'changed my mind' });
      expect(await step('begin', { key })).toEqual({
        status: 'superseded',
        key,
        reason: expect.stringMatching(/^rollout iris-\S+ of iris is not running any more: it has no canary$/),
      });
      expect(await step('begin', { key: 'registry/iris/rollouts/nothing-here.json' })).toMatchObject({
        status: 'superseded',
        reason: 'registry/iris/rollouts/nothing-here.json no longer exists',
      });
      expect(await step('begin', { key: 'registry/iris/rollouts/deeper/x.json' })).toMatchObject({
        status: 'superseded',
        reason: expect.stringMatching(/is not a rollout request/),
      });
    });

    test('fails on a request object that is not a rollout request (a broken writer)', async () => {
      await store.put('registry/iris/rollouts/broken.json', '{"model":"iris"}');
      await expect(step('begin', { key: 'registry/iris/rollouts/broken.json' })).rejects.toThrow(RolloutRequestError);
    });
  });

  describe('judge', () => {
    test('passes a healthy step, reading the window since the step started', async () => {
      const rollout = await started();
      const result = await step<Record<string, unknown>>('judge', { rollout });
      expect(result).toMatchObject({ status: 'pass', lastStep: false, extensionsLeft: true, rollout });
      expect(result.reason).toMatch(
        /^step 1 of 3 \(10%\) of rollout iris-\S+, canary v2: server error rate canary 0\/500/,
      );
      expect(metrics.calls).toEqual([
        { model: 'iris', since: new Date(rollout.stepStartedAt), until: expect.any(Date) },
      ]);
    });

    test('is insufficient below minRequests and counts the extension, until none is left', async () => {
      metrics.next = { champion: HEALTHY, canary: { ...HEALTHY, requests: 20 } };
      const rollout = await started();
      const first = await step<{ status: string; extensionsLeft: boolean; rollout: RolloutState }>('judge', {
        rollout,
      });
      expect(first).toMatchObject({ status: 'insufficient', extensionsLeft: true, rollout: { extensions: 1 } });
      const second = await step<{ status: string; extensionsLeft: boolean; rollout: RolloutState }>('judge', {
        rollout: first.rollout,
      });
      expect(second).toMatchObject({ status: 'insufficient', extensionsLeft: false, rollout: { extensions: 1 } });
      expect(await step('abort', second)).toMatchObject({
        status: 'aborted',
        aborted: true,
        reason: expect.stringMatching(
          /^not enough traffic to judge after 1 extension\(s\) of the 1 s bake: step 1 of 3 \(10%\).*the canary answered 20 of the 100 requests/,
        ),
      });
    });

    test('fails a canary with server errors', async () => {
      metrics.next = { champion: HEALTHY, canary: { ...HEALTHY, serverErrors: 100 } };
      expect(await step('judge', { rollout: await started() })).toMatchObject({
        status: 'fail',
        reason: expect.stringMatching(/server error rate canary 100\/500 \(20\.00%\)/),
      });
    });

    test('at 100% the champion baseline is its own traffic during the earlier steps', async () => {
      const begun = await started();
      const rollout = {
        ...begun,
        step: 2,
        weight: 100,
        stepStartedAt: new Date(Date.parse(begun.startedAt) + 2000).toISOString(),
      };
      const result = await step<{ window: { championBaseline: unknown } }>('judge', { rollout });
      expect(metrics.calls.map((c) => [c.since.toISOString(), c.until.toISOString()])).toEqual([
        [rollout.stepStartedAt, expect.any(String)],
        [rollout.startedAt, rollout.stepStartedAt],
      ]);
      expect(result).toMatchObject({
        lastStep: true,
        window: { championBaseline: { since: rollout.startedAt, until: rollout.stepStartedAt } },
      });
    });

    test("a plan that starts at 100% takes the champion's bake before the canary as its baseline", async () => {
      const rollout = { ...(await started()), plan: { ...PLAN, steps: [100], bakeSeconds: 600 }, weight: 100 };
      await step('judge', { rollout });
      expect(metrics.calls[1]).toEqual({
        model: 'iris',
        since: new Date(Date.parse(rollout.startedAt) - 600_000),
        until: new Date(rollout.startedAt),
      });
    });

    test('ends as aborted when the canary was aborted elsewhere, saying who and why', async () => {
      const rollout = await started();
      await routing.abortCanary('iris', { actor: 'alice', reason: 'customers complain' });
      expect(await step('judge', { rollout })).toEqual({
        status: 'aborted',
        rollout,
        reason: expect.stringMatching(/was ended elsewhere: canary-abort by alice at \S+: customers complain$/),
      });
      expect(metrics.calls).toEqual([]);
    });
  });

  describe('advance, promote, abort', () => {
    test('advance puts the next weight in force and starts its window at the change', async () => {
      const rollout = await started();
      const result = await step<{ rollout: RolloutState }>('advance', { rollout }, 'exec-9');
      const document = (await routing.read('iris'))?.document;
      expect(document?.canary).toMatchObject({ weight: 50, step: 1 });
      expect(result).toEqual({
        status: 'advanced',
        rollout: { ...rollout, step: 1, weight: 50, extensions: 0, stepStartedAt: document?.updatedAt },
      });
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-weight',
        weight: 50,
        actor: 'rollout:exec-9',
        reason: expect.stringMatching(/^step 1 of 3 \(10%\) passed the live gate; next: step 2 of 3 \(50%\)$/),
      });
    });

    test('advance after an abort elsewhere throws RolloutAbortedError (the definition ends in Aborted)', async () => {
      const rollout = await started();
      await routing.abortCanary('iris', { actor: 'alice', reason: 'no' });
      await expect(step('advance', { rollout })).rejects.toThrow(RolloutAbortedError);
    });

    test('promote moves the champion, clears the canary and records why', async () => {
      const rollout = await started(2);
      const result = await step('promote', { rollout, reason: 'step 3 of 3 (100%) ...: all fine' });
      expect(result).toMatchObject({ status: 'promoted', previousChampion: 1 });
      expect(await champion()).toBe(2);
      expect(await canary()).toBeUndefined();
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-promote',
        version: 2,
        reason: expect.stringMatching(
          /canary v2 passed every step \(10% -> 50% -> 100%\) of the live gate; last: step 3 of 3 \(100%\) \.\.\.: all fine$/,
        ),
      });
      await registry.promote('iris', 1, { actor: 'test', reason: 'back for the next tests' });
    });

    test('promote refuses to replace a champion that moved during the rollout (AliasMovedError)', async () => {
      const rollout = await started(2);
      await registry.promote('iris', 3, { actor: 'pipeline', reason: 'a retrain promoted directly' });
      await expect(step('promote', { rollout })).rejects.toThrow(AliasMovedError);
      const aborted = await step('abort', {
        rollout,
        error: { Error: 'AliasMovedError', Cause: 'alias "champion" points at v3, not v1' },
      });
      expect(aborted).toMatchObject({
        aborted: true,
        reason: expect.stringMatching(/the champion moved while canary v2 was rolled out/),
      });
      await registry.promote('iris', 1, { actor: 'test', reason: 'back for the next tests' });
    });

    test("abort takes the canary out, points challenger at it and records the gate's reason", async () => {
      const rollout = await started(2);
      const result = await step('abort', { rollout, status: 'fail', reason: 'server error rate canary 100/500' });
      expect(result).toMatchObject({
        status: 'aborted',
        aborted: true,
        reason: 'failed the live gate: server error rate canary 100/500',
      });
      expect(await canary()).toBeUndefined();
      expect(await champion()).toBe(1);
      expect(await challenger()).toMatchObject({ version: 2 });
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-abort',
        version: 2,
        weight: 0,
        reason: 'failed the live gate: server error rate canary 100/500',
      });
      // An abort of a rollout that already ended changes nothing.
      expect(await step('abort', { rollout, status: 'fail', reason: 'again' })).toMatchObject({ aborted: false });
    });
  });

  describe('alarm-abort (EventBridge alarm state change)', () => {
    test("aborts the model's canary with a reason naming the alarm", async () => {
      await started(2);
      expect(await run(alarmEvent('iris', 'ALARM'))).toMatchObject({ status: 'aborted', model: 'iris' });
      expect(await canary()).toBeUndefined();
      expect((await routing.history('iris')).at(-1)).toMatchObject({
        action: 'canary-abort',
        actor: 'alarm:CanaryErrors-iris',
        reason: expect.stringMatching(/^alarm CanaryErrors-iris went to ALARM at \S+: Threshold Crossed/),
      });
    });

    test('ignores a return to OK, and does nothing when the model has no canary', async () => {
      await started(2);
      expect(await run(alarmEvent('iris', 'OK'))).toMatchObject({ status: 'ignored' });
      expect(await canary()).toBeDefined();
      await routing.abortCanary('iris', { actor: 'test', reason: 'x' });
      expect(await run(alarmEvent('iris', 'ALARM'))).toMatchObject({ status: 'no-canary' });
    });

    test('refuses an alarm that watches no canary metric', async () => {
      await expect(run(alarmEvent('iris', 'ALARM', { service: 'inference', model: 'iris' }))).rejects.toThrow(
        AlarmEventError,
      );
    });
  });

  test('record-failure writes the failure and takes the canary out (fail closed)', async () => {
    const rollout = await started(2);
    const result = await step(
      'record-failure',
      { rollout, error: { Error: 'Lambda.Unknown', Cause: 'boom' } },
      'exec-broken',
    );
    expect(result).toEqual({ recorded: rolloutFailureKey('iris', rollout.rolloutId), aborted: true });
    expect(
      JSON.parse(Buffer.from((await store.get(rolloutFailureKey('iris', rollout.rolloutId)))?.body ?? []).toString()),
    ).toMatchObject({ execution: 'exec-broken', error: { Error: 'Lambda.Unknown' } });
    expect(await canary()).toBeUndefined();
    expect((await routing.history('iris')).at(-1)).toMatchObject({
      action: 'canary-abort',
      actor: 'rollout:exec-broken',
      reason: expect.stringMatching(
        /^the rollout execution exec-broken failed \(Lambda.Unknown: boom\); the canary is taken out/,
      ),
    });
  });

  test('refuses an unknown step or a state without a rollout, naming what it expected', async () => {
    await expect(run({ step: 'dance', execution: 'e', input: {} })).rejects.toThrow(RolloutStepRequestError);
    await expect(step('judge', { model: 'iris' })).rejects.toThrow(
      /^judge: input must hold the rollout state: rollout/,
    );
  });
});
