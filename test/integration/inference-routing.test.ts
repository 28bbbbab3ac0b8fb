import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ModelManifest } from '../../core/manifest';
import type { S3ObjectStore } from '../../core/s3-object-store';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { assignVariant, type RoutingDocument, routingKey } from '../../core/registry/routing';
import { createInferenceApp, type InferenceApp } from '../../lambdas/inference/app';
import { OnnxBackend } from '../../lambdas/inference/backends/onnx';
import { memoryRecorder, silentLog } from '../../lambdas/inference/metrics';
import { ModelCache } from '../../lambdas/inference/model-cache';
import { ModelCatalog } from '../../lambdas/inference/model-catalog';
import { buildInferenceApp } from '../../lambdas/inference/build-app';
import { loadConfig } from '../../lambdas/inference/config';
import { INFERENCE_METRICS, type MetricRecord } from '../../lambdas/inference/metrics';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel, type ExportedModel } from '../../training/export';
import { sha256Hex } from '../../core/hash';
import { FLOAT, GraphBuilder, INT64, STRING } from '../../training/onnx/graph-builder';
import { trainCandidates } from '../../training/train';
import type { AlgorithmName } from '../../training/algorithms/types';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

// Canary and shadow through the real app: routing documents in the local S3 server, real onnxruntime.
setQuietHandlerEnv('models');

const BUCKET = 'models';
const TTL_SECONDS = 0.05;
const afterTtl = () => new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000 + 30));

const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.8, petal_width: 2.2 };

function train(algorithm: AlgorithmName): ExportedModel {
  const spec = DATASETS.iris;
  const table = loadDataset(spec);
  const run = trainCandidates(table, { ...trainOptionsFor(spec), algorithms: [algorithm] });
  return exportModel(run, run.best, 'iris', table.sources);
}

/**
 * An iris-shaped model that loads, passes its smoke predictions (missing and imputed values) and
 * answers small flowers, but makes onnxruntime throw at run time for a petal_length of 5 or more:
 * the length, truncated, indexes a 5-entry table (Gather refuses an index out of bounds).
 */
function failsOnLongPetals(like: ModelManifest): ExportedModel {
  const graph = new GraphBuilder();
  const columns = like.features.map((f) => graph.input(f.input, FLOAT, ['N', 1]));
  const raw = graph.op('Concat', columns, { axis: 1 });
  const x = graph.op('Where', [graph.op('IsNaN', [raw]), graph.floats('zero', [0], [1]), raw]);
  const weights = graph.floats('w', [0, 0, 0, 0, 0, 0, -2, 0, 2, 0, 0, 0], [4, 3]);
  const scores = graph.op('Add', [graph.op('MatMul', [x, weights]), graph.floats('b', [6, 0, -6], [3])]);
  const petalIndex = graph.op('Cast', [graph.op('Gather', [x, graph.int64s('petal', [2], [1])], { axis: 1 })], {
    to: INT64,
  });
  const ones = graph.op('Gather', [graph.floats('table', [1, 1, 1, 1, 1], [5]), petalIndex], { axis: 0 });
  graph.node('Mul', [graph.op('Softmax', [scores], { axis: 1 }), ones], {}, { outputs: ['probabilities'] });
  graph.node(
    'Gather',
    [
      graph.strings('classes', [...like.classes], [like.classes.length]),
      graph.op('ArgMax', ['probabilities'], { axis: 1, keepdims: 0 }),
    ],
    { axis: 0 },
    { outputs: ['label'] },
  );
  graph.output('label', STRING, ['N']);
  graph.output('probabilities', FLOAT, ['N', like.classes.length]);
  const onnx = graph.toBytes('fails-on-long-petals');
  return { onnx, manifest: { ...like, algorithm: 'handmade', sha256: sha256Hex(onnx) } };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions walk arbitrary JSON answers
  readonly json: any;
}

/** Inference ids are new per request by design; answers are compared byte for byte with them masked. */
const INFERENCE_ID = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

async function call(event: APIGatewayProxyEventV2, on: Pick<InferenceApp, 'handle'> = app): Promise<Answer> {
  const result: APIGatewayProxyStructuredResultV2 = await on.handle(event);
  const text = (result.body ?? '').replace(INFERENCE_ID, '<inference-id>');
  const headers = { ...result.headers };
  if (typeof headers['x-inference-id'] === 'string') headers['x-inference-id'] = '<inference-id>';
  return { status: result.statusCode ?? 0, headers, text, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

const predict = (model: string, features: object = SETOSA, headers: Record<string, string> = {}, sourceIp?: string) =>
  apiGatewayEvent({
    method: 'POST',
    path: `/models/${model}/predict`,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ features }),
    sourceIp,
  });
const asCaller = (model: string, caller: string, features: object = SETOSA) =>
  call(predict(model, features, { 'x-caller-id': caller }));
const variantOf = (answer: Answer) => ({
  variant: answer.headers['x-model-variant'],
  version: answer.headers['x-model-version'],
});

/** Versions every test model gets, in this order. */
const V = { lr: 1, nb: 2, failing: 3, lrAgain: 4 } as const;
/** A version with a manifest but bytes onnxruntime cannot load. */
const UNLOADABLE = 99;

let s3: TestS3;
let store: S3ObjectStore;
let app: InferenceApp;
const metrics: MetricRecord[] = [];
const recorded = (name: string, model: string) =>
  metrics.filter((m) => m.name === name && m.dimensions.model === model);

async function writeRouting(
  model: string,
  routes: {
    canary?: { version: number; weight: number; rolloutId?: string };
    shadow?: { version: number; sample: number };
  },
): Promise<void> {
  const at = new Date().toISOString();
  const document: RoutingDocument = {
    model,
    champion: V.lr,
    ...(routes.canary ? { canary: { rolloutId: 'rollout-1', startedAt: at, ...routes.canary } } : {}),
    ...(routes.shadow ? { shadow: { startedAt: at, ...routes.shadow } } : {}),
    updatedAt: at,
    actor: 'test',
    reason: 'routing test',
  };
  await store.put(routingKey(model), JSON.stringify(document));
}

const MODELS = [
  'promoted',
  'split',
  'removal',
  'corrupt',
  'unloadable',
  'shadowed',
  'failing-shadow',
  'backend',
  'failing-champion',
  'chosen',
];

beforeAll(async () => {
  s3 = await startTestS3([BUCKET]);
  store = s3.store(BUCKET);
  const registry = new ModelRegistry(store, new OnnxModelValidator());
  const lr = train('lr');
  const nb = train('nb');
  const failing = failsOnLongPetals(lr.manifest);
  const garbage = new TextEncoder().encode('not an ONNX model');
  for (const model of MODELS) {
    for (const version of [lr, nb, failing, lr])
      await registry.register(model, version.onnx, version.manifest, { actor: 'test' });
    await registry.promote(model, model === 'failing-champion' ? V.failing : V.lr, {
      actor: 'test',
      reason: 'routing test',
    });
    await store.put(`registry/${model}/versions/${UNLOADABLE}/model.onnx`, garbage);
    await store.put(
      `registry/${model}/versions/${UNLOADABLE}/manifest.json`,
      JSON.stringify({ ...lr.manifest, version: UNLOADABLE, sha256: sha256Hex(garbage) }),
    );
  }
  process.env.AWS_ENDPOINT_URL = s3.server.endpoint;
  app = buildInferenceApp(
    loadConfig({ ...process.env, MODEL_TTL_SECONDS: String(TTL_SECONDS), DEFAULT_MODEL: 'chosen' }),
    { metricListener: (m) => metrics.push(m) },
  );
}, 120_000);

afterAll(async () => {
  await s3.close();
  delete process.env.AWS_ENDPOINT_URL;
});

describe('canary: sticky assignment by caller', () => {
  test('a 10 % canary answers a share of 2,000 distinct callers within the binomial 99.9 % interval, each answer saying who answered', async () => {
    await writeRouting('split', { canary: { version: V.nb, weight: 10 } });
    const callers = Array.from({ length: 2000 }, (_, i) => `caller-${i}`);
    const answers: Answer[] = [];
    for (const caller of callers) answers.push(await asCaller('split', caller));

    expect(answers.every((a) => a.status === 200)).toBe(true);
    const canary = answers.filter((a) => a.headers['x-model-variant'] === 'canary');
    const champion = answers.filter((a) => a.headers['x-model-variant'] === 'champion');
    expect(canary.length + champion.length).toBe(2000);
    // n p = 200, sqrt(n p (1 - p)) = 13.4; z(0.9995) = 3.29: 200 +- 44.
    const halfWidth = 3.29 * Math.sqrt(2000 * 0.1 * 0.9);
    expect(Math.abs(canary.length - 200)).toBeLessThanOrEqual(halfWidth);
    expect(canary.every((a) => a.json.version === V.nb && a.headers['x-model-version'] === String(V.nb))).toBe(true);
    expect(champion.every((a) => a.json.version === V.lr && a.headers['x-model-version'] === String(V.lr))).toBe(true);
    // The app's assignment is the contract's: a client computing assignVariant for its id gets what it is served.
    answers.forEach((a, i) =>
      expect(a.headers['x-model-variant']).toBe(assignVariant({ rolloutId: 'rollout-1', weight: 10 }, callers[i])),
    );
    const requests = (variant: string) =>
      recorded(INFERENCE_METRICS.variantRequests, 'split').filter((m) => m.dimensions.variant === variant).length;
    expect([requests('canary'), requests('champion')]).toEqual([canary.length, champion.length]);
    expect(recorded(INFERENCE_METRICS.variantLatency, 'split')).toHaveLength(2000);
    expect(
      recorded(INFERENCE_METRICS.variantPredictions, 'split')
        .filter((m) => m.dimensions.variant === 'canary')
        .reduce((s, m) => s + m.value, 0),
    ).toBe(canary.length);
  });

  test('the same caller id gets the same variant 100 times; without an id, the same source IP does', async () => {
    const inCanary = Array.from({ length: 2000 }, (_, i) => `caller-${i}`).find(
      (c) => assignVariant({ rolloutId: 'rollout-1', weight: 10 }, c) === 'canary',
    ) as string;
    const byId = await Promise.all(Array.from({ length: 100 }, () => asCaller('split', inCanary)));
    expect(new Set(byId.map((a) => a.headers['x-model-variant']))).toEqual(new Set(['canary']));

    const ip = Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).find(
      (a) => assignVariant({ rolloutId: 'rollout-1', weight: 10 }, a) === 'canary',
    ) as string;
    const byIp = await Promise.all(Array.from({ length: 100 }, () => call(predict('split', SETOSA, {}, ip))));
    expect(new Set(byIp.map((a) => a.headers['x-model-variant']))).toEqual(new Set(['canary']));
  });

  test("after the canary leaves the document, or the document is deleted, every answer is the champion's once the TTL passes", async () => {
    await writeRouting('removal', { canary: { version: V.nb, weight: 100 } });
    expect(variantOf(await asCaller('removal', 'anyone'))).toEqual({ variant: 'canary', version: String(V.nb) });
    // GET /models/{name} says what this instance routes by.
    const info = await call(apiGatewayEvent({ method: 'GET', path: '/models/removal' }));
    expect(info.json).toMatchObject({
      routing: { canary: { version: V.nb, weight: 100, step: null, steps: null }, shadow: null },
    });

    await writeRouting('removal', { shadow: { version: V.nb, sample: 0 } });
    await afterTtl();
    const after = await Promise.all(Array.from({ length: 50 }, (_, i) => asCaller('removal', `caller-${i}`)));
    expect(after.map((a) => [a.json.version, a.headers['x-model-variant']])).toEqual(
      Array(50).fill([V.lr, 'champion']),
    );

    await writeRouting('removal', { canary: { version: V.nb, weight: 100 } });
    await afterTtl();
    expect(variantOf(await asCaller('removal', 'anyone')).variant).toBe('canary');
    await store.delete(routingKey('removal'));
    await afterTtl();
    expect(variantOf(await asCaller('removal', 'anyone'))).toEqual({ variant: 'champion', version: String(V.lr) });
  });

  test('a document written over a newer champion (a canary just promoted) re-checks the alias at once, not after the TTL', async () => {
    // A TTL far longer than the test: only the re-check can make v2 answer.
    const registry = new ModelRegistry(store, new OnnxModelValidator());
    const recorder = memoryRecorder();
    const models = new ModelCache({
      source: registry,
      backendFor: () => new OnnxBackend(),
      ttlMs: 3_600_000,
      recorder,
      log: silentLog,
    });
    let document: RoutingDocument | undefined;
    const routed = createInferenceApp({
      source: registry,
      models,
      catalog: new ModelCatalog(registry, 3_600_000),
      routing: { get: async () => document },
      limits: { maxBatch: 100, maxBodyBytes: 1_000_000, maxTextChars: 1000 },
      recorder,
      log: silentLog,
    });
    const at = new Date().toISOString();
    document = {
      model: 'promoted',
      champion: V.lr,
      canary: { rolloutId: 'r-promoted', version: V.nb, weight: 100, startedAt: at },
      updatedAt: at,
      actor: 'test',
      reason: 'canary',
    };
    expect(variantOf(await call(predict('promoted'), routed))).toEqual({ variant: 'canary', version: String(V.nb) });
    // The promotion: champion -> v2, then the document without the canary (over champion v2).
    await registry.promote('promoted', V.nb, { actor: 'test', reason: 'canary promoted' });
    document = {
      model: 'promoted',
      champion: V.nb,
      updatedAt: new Date(Date.parse(at) + 1).toISOString(),
      actor: 'test',
      reason: 'canary promoted',
    };
    const after = await Promise.all(Array.from({ length: 20 }, () => call(predict('promoted'), routed)));
    expect(after.map(variantOf)).toEqual(Array(20).fill({ variant: 'champion', version: String(V.nb) }));
    // A document whose champion stays behind (a rollback it does not know of) is re-checked once, not on every request.
    await registry.rollback('promoted', { actor: 'test', reason: 'rolled back' });
    const reads = jest.spyOn(registry, 'resolveAlias');
    await Promise.all(Array.from({ length: 20 }, () => call(predict('promoted'), routed)));
    expect(reads.mock.calls.length).toBeLessThanOrEqual(1);
  });

  test('POST /predict without a model name routes the model it picks the same way', async () => {
    await writeRouting('chosen', { canary: { version: V.nb, weight: 100 } });
    const answer = await call(
      apiGatewayEvent({
        method: 'POST',
        path: '/predict',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([5.1, 3.5, 1.4, 0.2]),
      }),
    );
    expect(answer.json).toMatchObject({ model: 'chosen', version: V.nb });
    expect(variantOf(answer)).toEqual({ variant: 'canary', version: String(V.nb) });
  });
});

describe('routing documents and versions that cannot be used', () => {
  test('a corrupt routing.json is ignored (the champion serves, RoutingDocumentErrors at every check), and a fixed one applies after the TTL', async () => {
    await store.put(routingKey('corrupt'), '{"model": "corrupt", "canary": {"version": "two"}');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => asCaller('corrupt', `caller-${i}`)));
    expect(answers.map((a) => [a.status, a.headers['x-model-variant'], a.json.version])).toEqual(
      Array(20).fill([200, 'champion', V.lr]),
    );
    expect(recorded(INFERENCE_METRICS.routingDocumentErrors, 'corrupt')).toEqual([
      { name: 'RoutingDocumentErrors', unit: 'Count', value: 1, dimensions: { model: 'corrupt' } },
    ]);

    // Still corrupt at the next check (a 304): reported again, still ignored.
    await afterTtl();
    expect(variantOf(await asCaller('corrupt', 'anyone')).variant).toBe('champion');
    expect(recorded(INFERENCE_METRICS.routingDocumentErrors, 'corrupt')).toHaveLength(2);

    await store.put(
      routingKey('corrupt'),
      JSON.stringify({
        model: 'corrupt',
        champion: 1,
        canary: { rolloutId: 'r', version: V.nb, weight: 100, startedAt: 'now' },
        updatedAt: 'now',
        actor: 'test',
        reason: 'fixed',
      }),
    );
    await afterTtl();
    expect(variantOf(await asCaller('corrupt', 'anyone'))).toEqual({ variant: 'canary', version: String(V.nb) });
    expect(recorded(INFERENCE_METRICS.routingDocumentErrors, 'corrupt')).toHaveLength(2);
  });

  test("a canary version that cannot load: its callers get the champion's normal answer, ModelLoadFailures once, no retry on every request", async () => {
    const before = await asCaller('unloadable', 'anyone');
    await writeRouting('unloadable', { canary: { version: UNLOADABLE, weight: 100 } });
    await afterTtl();
    const answers = await Promise.all(Array.from({ length: 10 }, () => asCaller('unloadable', 'anyone')));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.text).toBe(before.text);
      expect(variantOf(answer)).toEqual({ variant: 'champion', version: String(V.lr) });
    }
    await afterTtl();
    expect(variantOf(await asCaller('unloadable', 'anyone')).variant).toBe('champion');
    expect(recorded(INFERENCE_METRICS.modelLoadFailures, 'unloadable')).toHaveLength(1);
    expect(recorded(INFERENCE_METRICS.variantRequests, 'unloadable').map((m) => m.dimensions.variant)).toEqual(
      Array(12).fill('champion'),
    );
  });
});

describe('variant headers and counts on refusals', () => {
  test('a request refused after the model is resolved says which version refused it and counts a client error for that variant', async () => {
    await writeRouting('backend', { canary: { version: V.failing, weight: 100 } });
    const refused = await call(predict('backend', { ...SETOSA, petal_width: 'wide' }, { 'x-caller-id': 'anyone' }));
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('invalid_type');
    expect(variantOf(refused)).toEqual({ variant: 'canary', version: String(V.failing) });
    expect(recorded(INFERENCE_METRICS.variantClientErrors, 'backend')).toEqual([
      { name: 'VariantClientErrors', unit: 'Count', value: 1, dimensions: { model: 'backend', variant: 'canary' } },
    ]);
    // Before a model is resolved nothing answered: no variant.
    const unknown = await call(predict('nope'));
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-model-variant']).toBeUndefined();
  });

  test('onnxruntime failing at run time is a 502 with the variant headers and a VariantServerErrors count', async () => {
    const canary = await asCaller('backend', 'anyone', VIRGINICA);
    expect(canary.status).toBe(502);
    expect(canary.json.error.code).toBe('backend_error');
    expect(canary.text).not.toMatch(/Gather|onnx/i);
    expect(variantOf(canary)).toEqual({ variant: 'canary', version: String(V.failing) });
    expect(recorded(INFERENCE_METRICS.variantServerErrors, 'backend')).toEqual([
      { name: 'VariantServerErrors', unit: 'Count', value: 1, dimensions: { model: 'backend', variant: 'canary' } },
    ]);
    // The same version as champion, no routing document: the champion's own failures are counted too.
    const champion = await call(predict('failing-champion', VIRGINICA));
    expect(champion.status).toBe(502);
    expect(variantOf(champion)).toEqual({ variant: 'champion', version: String(V.failing) });
    expect(
      recorded(INFERENCE_METRICS.variantServerErrors, 'failing-champion').map((m) => m.dimensions.variant),
    ).toEqual(['champion']);
    // Small flowers still work on that version.
    expect((await asCaller('backend', 'anyone', SETOSA)).status).toBe(200);
  });
});

describe('shadow: scored after the answer, never changing it', () => {
  const rows = [
    SETOSA,
    VIRGINICA,
    { sepal_length: 6.0, sepal_width: 2.7, petal_length: 4.5, petal_width: 1.5 },
    { sepal_length: 6.3, sepal_width: 2.8, petal_length: 5.0, petal_width: 1.6 },
  ];
  const send = (model: string) =>
    call(
      apiGatewayEvent({
        method: 'POST',
        path: `/models/${model}/predict`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: rows }),
      }),
    );
  /** The answer, then the work after it (the shadow) done, as the Lambda handler's hold waits for it. */
  const batch = async (model: string) => {
    const answer = await send(model);
    await app.settled();
    return answer;
  };

  test('answers are byte for byte the same with and without a shadow, and the comparison is recorded per request', async () => {
    const without = await batch('shadowed');
    // The shadow is the champion's own bytes as another version: full agreement, no difference.
    await writeRouting('shadowed', { shadow: { version: V.lrAgain, sample: 100 } });
    await afterTtl();
    const same = await batch('shadowed');
    expect(same.status).toBe(200);
    expect(same.text).toBe(without.text);
    expect(variantOf(same)).toEqual(variantOf(without));
    expect(recorded(INFERENCE_METRICS.shadowPredictions, 'shadowed').at(-1)).toEqual({
      name: 'ShadowPredictions',
      unit: 'Count',
      value: 4,
      dimensions: { model: 'shadowed' },
    });
    expect(recorded(INFERENCE_METRICS.shadowAgreement, 'shadowed').at(-1)).toMatchObject({ unit: 'None', value: 1 });
    expect(recorded(INFERENCE_METRICS.shadowProbabilityDelta, 'shadowed').at(-1)).toMatchObject({
      unit: 'None',
      value: 0,
    });
    expect(recorded(INFERENCE_METRICS.shadowLatency, 'shadowed').at(-1)).toMatchObject({
      unit: 'Milliseconds',
      value: expect.any(Number),
    });

    // Another model as shadow: what it would have answered, compared with what was answered.
    await writeRouting('shadowed', { shadow: { version: V.nb, sample: 100 } });
    await writeRouting('removal', { canary: { version: V.nb, weight: 100 } });
    await afterTtl();
    const answered = await batch('shadowed');
    expect(answered.text).toBe(without.text);
    const nb = await call(
      apiGatewayEvent({
        method: 'POST',
        path: '/models/removal/predict',
        headers: { 'content-type': 'application/json', 'x-caller-id': 'x' },
        body: JSON.stringify({ instances: rows }),
      }),
    );
    expect(nb.json.version).toBe(V.nb);
    const pairs = answered.json.predictions.map(
      (p: { label: string; probabilities: Record<string, number> }, i: number) => [p, nb.json.predictions[i]],
    );
    const agreement = pairs.filter(([a, b]: { label: string }[]) => a.label === b.label).length / rows.length;
    const delta =
      pairs.reduce(
        (sum: number, [a, b]: { probabilities: Record<string, number> }[]) =>
          sum + Math.max(...Object.keys(a.probabilities).map((c) => Math.abs(a.probabilities[c] - b.probabilities[c]))),
        0,
      ) / rows.length;
    expect(recorded(INFERENCE_METRICS.shadowAgreement, 'shadowed').at(-1)?.value).toBeCloseTo(agreement, 10);
    expect(recorded(INFERENCE_METRICS.shadowProbabilityDelta, 'shadowed').at(-1)?.value).toBeCloseTo(delta, 5);
    expect(delta).toBeGreaterThan(0);
  });

  test('a shadow that throws leaves the answer, its status and headers as they are; only ShadowErrors says so', async () => {
    const without = await batch('failing-shadow');
    await writeRouting('failing-shadow', { shadow: { version: V.failing, sample: 100 } });
    await afterTtl();
    const answered = await batch('failing-shadow');
    expect(answered).toEqual(without);
    expect(recorded(INFERENCE_METRICS.shadowErrors, 'failing-shadow')).toEqual([
      { name: 'ShadowErrors', unit: 'Count', value: 1, dimensions: { model: 'failing-shadow' } },
    ]);
    expect(recorded(INFERENCE_METRICS.shadowPredictions, 'failing-shadow')).toEqual([]);
    expect(recorded(INFERENCE_METRICS.variantServerErrors, 'failing-shadow')).toEqual([]);
    // A shadow that cannot even load: the same.
    await writeRouting('failing-shadow', { shadow: { version: UNLOADABLE, sample: 100 } });
    await afterTtl();
    expect(await batch('failing-shadow')).toEqual(without);
    expect(recorded(INFERENCE_METRICS.shadowErrors, 'failing-shadow')).toHaveLength(2);
  });

  test('a shadow sample of 0 scores nothing', async () => {
    await writeRouting('shadowed', { shadow: { version: V.nb, sample: 0 } });
    await afterTtl();
    const before = recorded(INFERENCE_METRICS.shadowLatency, 'shadowed').length;
    for (let i = 0; i < 20; i++) await batch('shadowed');
    expect(recorded(INFERENCE_METRICS.shadowLatency, 'shadowed')).toHaveLength(before);
  });

  test('the answer is handed back before the shadow starts; the shadow is done when the app says its work is settled', async () => {
    await writeRouting('shadowed', { shadow: { version: V.lrAgain, sample: 100 } });
    await afterTtl();
    await batch('shadowed');
    const before = recorded(INFERENCE_METRICS.shadowLatency, 'shadowed').length;
    const answer = await send('shadowed');
    expect(answer.status).toBe(200);
    expect(recorded(INFERENCE_METRICS.shadowLatency, 'shadowed')).toHaveLength(before);
    await app.settled();
    expect(recorded(INFERENCE_METRICS.shadowLatency, 'shadowed')).toHaveLength(before + 1);
  });
});
