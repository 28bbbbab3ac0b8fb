import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { ModelManifest } from '../../core/manifest';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import type { InferenceApp } from '../../lambdas/inference/app';
import { loadConfig } from '../../lambdas/inference/config';
import { INFERENCE_METRICS, type MetricRecord } from '../../lambdas/inference/metrics';
import { HOLD_KEY } from '../../lambdas/inference/post-response-extension';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel, type ExportedModel } from '../../training/export';
import { sha256Hex } from '../../core/hash';
import { FLOAT, GraphBuilder, STRING } from '../../training/onnx/graph-builder';
import { trainCandidates } from '../../training/train';
import type { AlgorithmName } from '../../training/algorithms/types';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

// The handler module builds its own app from the environment at import (as in Lambda): quiet
// Powertools, point the SDK at the local S3 server, then import it (see beforeAll).
setQuietHandlerEnv('models');

type HandlerModule = typeof import('../../lambdas/inference/handler');

const BUCKET = 'models';
const TTL_SECONDS = 0.05;
const afterTtl = () => new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000 + 30));

function train(
  dataset: keyof typeof DATASETS,
  algorithm: AlgorithmName,
  name: string,
  seed?: number,
  classNames?: Record<string, string>,
): ExportedModel {
  const spec = DATASETS[dataset];
  const table = loadDataset(spec);
  const run = trainCandidates(table, { ...trainOptionsFor(spec), algorithms: [algorithm], seed });
  return exportModel(run, run.best, name, table.sources, classNames);
}

const post = (path: string, body: unknown, extra: Partial<Parameters<typeof apiGatewayEvent>[0]> = {}) =>
  apiGatewayEvent({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...extra,
  });
const get = (path: string) => apiGatewayEvent({ method: 'GET', path });
/** A predict request whose body is gzip-compressed, as API Gateway hands a binary body over (base64). */
const gzipped = (body: string | Buffer, path = '/models/iris/predict') =>
  apiGatewayEvent({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(body),
  });

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions walk arbitrary JSON answers
  readonly json: any;
}

async function call(app: Pick<InferenceApp, 'handle'>, event: APIGatewayProxyEventV2): Promise<Answer> {
  const result: APIGatewayProxyStructuredResultV2 = await app.handle(event);
  const text = result.body ?? '';
  const type = String(result.headers?.['content-type'] ?? '');
  return {
    status: result.statusCode ?? 0,
    headers: result.headers ?? {},
    text,
    json: type.startsWith('application/json') ? JSON.parse(text) : undefined,
  };
}

/**
 * An iris-shaped model whose `label` output is deliberately wrong (the argmin class), like an ML
 * operator that mislabels: the API must answer the argmax of `probabilities` instead.
 */
function mislabellingModel(like: ModelManifest): ExportedModel {
  const graph = new GraphBuilder();
  const columns = like.features.map((f) => graph.input(f.input, FLOAT, ['N', 1]));
  const x = graph.op('Concat', columns, { axis: 1 });
  // Scores: class 0 <- petal_length small, class 2 <- petal_length large.
  const weights = graph.floats('w', [0, 0, 0, 0, 0, 0, -2, 0, 2, 0, 0, 0], [4, 3]);
  const bias = graph.floats('b', [6, 0, -6], [3]);
  const scores = graph.op('Add', [graph.op('MatMul', [x, weights]), bias]);
  graph.node('Softmax', [scores], { axis: 1 }, { outputs: ['probabilities'] });
  const wrong = graph.op('ArgMin', ['probabilities'], { axis: 1, keepdims: 0 });
  graph.node(
    'Gather',
    [graph.strings('classes', [...like.classes], [like.classes.length]), wrong],
    { axis: 0 },
    { outputs: ['label'] },
  );
  graph.output('label', STRING, ['N']);
  graph.output('probabilities', FLOAT, ['N', like.classes.length]);
  const onnx = graph.toBytes('mislabelling');
  return { onnx, manifest: { ...like, name: 'mislabelling', algorithm: 'handmade', sha256: sha256Hex(onnx) } };
}

/** A port nothing listens on: S3 "down". */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const IRIS_FEATURES = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.8, petal_width: 2.2 };
const MACHINE = {
  Type: 'M',
  'Air temperature [K]': 298.1,
  'Process temperature [K]': 308.6,
  'Rotational speed [rpm]': 1551,
  'Torque [Nm]': 42.8,
  'Tool wear [min]': 0,
};

let s3: TestS3;
let registry: ModelRegistry;
let handlerModule: HandlerModule;
let app: InferenceApp;
const metrics: MetricRecord[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'inference-test-'));
const actor = { actor: 'test', reason: 'integration test' };

beforeAll(async () => {
  s3 = await startTestS3([BUCKET]);
  registry = new ModelRegistry(s3.store(BUCKET), new OnnxModelValidator());
  const iris = train('iris', 'lr', 'iris');
  for (const [name, model] of [
    ['iris', iris],
    ['flowers', iris],
    ['sentiment', train('sentiment', 'nb', 'sentiment')],
    // A display name for a class the data does not have ("2") is dropped from the manifest.
    ['ai4i2020', train('ai4i2020', 'lr', 'ai4i2020', undefined, { '0': 'no failure', '1': 'failure', '2': 'other' })],
    ['mislabelling', mislabellingModel(iris.manifest)],
  ] as const) {
    const { version } = await registry.register(name, model.onnx, model.manifest, { actor: 'test' });
    await registry.promote(name, version, actor);
  }
  // Bring-your-own-model: scikit-learn + skl2onnx, one shared input for all features.
  const byom = join(__dirname, '..', 'fixtures', 'byom');
  const sklearn = await registry.register(
    'iris-sklearn',
    new Uint8Array(readFileSync(join(byom, 'model.onnx'))),
    JSON.parse(readFileSync(join(byom, 'manifest.json'), 'utf8')) as ModelManifest,
    { actor: 'test' },
  );
  await registry.promote('iris-sklearn', sklearn.version, actor);
  // A model bundled with the function but unknown to the registry: "alias absent" is a 404, never the bundle.
  const bundled = join(scratch, 'bundled');
  mkdirSync(join(bundled, 'ghost'), { recursive: true });
  writeFileSync(join(bundled, 'ghost', 'model.onnx'), iris.onnx);
  writeFileSync(
    join(bundled, 'ghost', 'manifest.json'),
    JSON.stringify({ ...iris.manifest, name: 'ghost', version: 1 }),
  );

  process.env.AWS_ENDPOINT_URL = s3.server.endpoint;
  // What the preload leaves when the post-response extension registered (read at import).
  (globalThis as Record<symbol, unknown>)[HOLD_KEY] = hold;
  handlerModule = await import('../../lambdas/inference/handler');
  const config = loadConfig({
    ...process.env,
    MODEL_TTL_SECONDS: String(TTL_SECONDS),
    DEFAULT_MODEL: 'iris',
    BUNDLED_MODELS_DIR: bundled,
  });
  app = handlerModule.buildInferenceApp(config, { metricListener: (m) => metrics.push(m) });
});

afterAll(async () => {
  delete (globalThis as Record<symbol, unknown>)[HOLD_KEY];
  await s3.close();
  rmSync(scratch, { recursive: true, force: true });
  delete process.env.AWS_ENDPOINT_URL;
});

/** A stand-in for the post-response hold: which invocations the handler left their deferred work to. */
const hold = {
  holding: true,
  handedOver: [] as string[],
  answered(requestId: string, work: Promise<void>) {
    this.handedOver.push(requestId);
    void work;
  },
};

const recorded = (name: string, model?: string) =>
  metrics.filter((m) => m.name === name && (model === undefined || m.dimensions.model === model));

describe('predictions over API Gateway v2 events', () => {
  it('predicts one iris instance by feature name', async () => {
    const res = await call(app, post('/models/iris/predict', { features: IRIS_FEATURES }));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model: 'iris', version: 1, predictions: [{ label: 'Iris-setosa' }] });
    const probabilities = res.json.predictions[0].probabilities;
    expect(Object.keys(probabilities)).toEqual(['Iris-setosa', 'Iris-versicolor', 'Iris-virginica']);
    expect(Object.values<number>(probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(probabilities['Iris-setosa']).toBeGreaterThan(0.8);
  });

  it('predicts a batch of named and positional instances', async () => {
    const res = await call(
      app,
      post('/models/iris/predict', {
        instances: [IRIS_FEATURES, Object.values(VIRGINICA), { ...IRIS_FEATURES, petal_width: null }],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.json.predictions.map((p: { label: string }) => p.label)).toEqual([
      'Iris-setosa',
      'Iris-virginica',
      'Iris-setosa',
    ]);
    const counted = recorded(INFERENCE_METRICS.predictions, 'iris').filter(
      (m) => m.dimensions.class === 'Iris-virginica',
    );
    expect(counted.at(-1)).toEqual({
      name: 'Predictions',
      unit: 'Count',
      value: 1,
      dimensions: { model: 'iris', version: '1', class: 'Iris-virginica' },
    });
    expect(recorded(INFERENCE_METRICS.inferenceLatency, 'iris').at(-1)).toMatchObject({
      unit: 'Milliseconds',
      dimensions: { model: 'iris' },
    });
  });

  it('predicts with a text model (sentiment, naive Bayes)', async () => {
    const res = await call(
      app,
      post('/models/sentiment/predict', {
        instances: [
          { sentence: 'I love this phone, great quality and works perfectly' },
          { sentence: 'Terrible. It broke after a day, waste of money' },
          { sentence: null },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.json.predictions.slice(0, 2).map((p: { label: string }) => p.label)).toEqual(['1', '0']);
  });

  it('predicts with a mixed numeric and categorical model (ai4i2020), imputing nulls', async () => {
    const res = await call(
      app,
      post('/models/ai4i2020/predict', { instances: [MACHINE, { ...MACHINE, Type: null, 'Torque [Nm]': null }] }),
    );
    expect(res.status).toBe(200);
    expect(res.json.predictions).toHaveLength(2);
    expect(res.json.predictions[0].label).toBe('0');
  });

  it("labels by the argmax of the probabilities, never by the graph's label output", async () => {
    const res = await call(
      app,
      post('/models/mislabelling/predict', {
        instances: [
          { ...IRIS_FEATURES, petal_length: 1 },
          { ...IRIS_FEATURES, petal_length: 6 },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.json.predictions.map((p: { label: string }) => p.label)).toEqual(['Iris-setosa', 'Iris-virginica']);
    expect(res.json.predictions[0].probabilities['Iris-setosa']).toBeGreaterThan(0.9);
  });

  it('serves a bring-your-own scikit-learn model as scikit-learn predicts', async () => {
    const expected = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'byom', 'expected.json'), 'utf8')) as {
      rows: object[];
      probabilities: number[][];
      labels: string[];
      classes: string[];
    };
    const res = await call(app, post('/models/iris-sklearn/predict', { instances: expected.rows }));
    expect(res.status).toBe(200);
    expect(res.json.predictions.map((p: { label: string }) => p.label)).toEqual(expected.labels);
    res.json.predictions.forEach((p: { probabilities: Record<string, number> }, i: number) => {
      expected.classes.forEach((c, k) =>
        expect(Math.abs(p.probabilities[c] - expected.probabilities[i][k])).toBeLessThan(1e-5),
      );
    });
  });

  it('POST /predict picks the one model whose features the request names, else the default model', async () => {
    expect((await call(app, post('/predict', { features: MACHINE }))).json.model).toBe('ai4i2020');
    expect((await call(app, post('/predict', { features: { sentence: 'nice' } }))).json.model).toBe('sentiment');
    // iris, flowers and iris-sklearn share a feature set, positional values name none: the default (iris).
    expect((await call(app, post('/predict', { features: IRIS_FEATURES }))).json.model).toBe('iris');
    expect((await call(app, post('/predict', Object.values(IRIS_FEATURES)))).json.model).toBe('iris');
    const noDefault = handlerModule.buildInferenceApp(loadConfig({ ...process.env, DEFAULT_MODEL: '' }));
    expect((await call(noDefault, post('/predict', { features: { sentence: 'nice' } }))).json.model).toBe('sentiment');
    expect(await call(noDefault, post('/predict', { features: IRIS_FEATURES }))).toMatchObject({
      status: 400,
      json: { error: { code: 'model_not_determined' } },
    });
    expect(await call(noDefault, post('/predict', [1, 2, 3, 4]))).toMatchObject({
      status: 400,
      json: { error: { code: 'model_not_determined' } },
    });
  });

  it('the exported Lambda handler serves the same API and records a cold start once per app', async () => {
    const res = await handlerModule.handler(post('/models/iris/predict', { features: IRIS_FEATURES }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body ?? '')).toMatchObject({ model: 'iris', predictions: [{ label: 'Iris-setosa' }] });
    expect(recorded(INFERENCE_METRICS.coldStarts)).toEqual([
      { name: 'ColdStart', unit: 'Count', value: 1, dimensions: {} },
    ]);
  });

  it('a gzip-compressed batch is answered like the same batch uncompressed', async () => {
    const body = JSON.stringify({ instances: Array.from({ length: 200 }, () => IRIS_FEATURES) });
    const plain = await call(app, post('/models/iris/predict', body));
    const compressed = await call(app, gzipped(body));
    expect(compressed.status).toBe(200);
    const labels = (answer: typeof plain) =>
      (answer.json.predictions as { label: string; probabilities: unknown }[]).map((p) => [p.label, p.probabilities]);
    expect(labels(compressed)).toEqual(labels(plain));
  });

  it('the handler leaves work after the answer to the post-response hold under the invocation id while the hold runs, else waits for it itself', async () => {
    const event = post('/models/iris/predict', { features: IRIS_FEATURES });
    hold.handedOver.length = 0;
    expect((await handlerModule.handler(event, { awsRequestId: 'req-42' } as Context)).statusCode).toBe(200);
    expect(hold.handedOver).toEqual(['req-42']);
    hold.holding = false;
    try {
      expect((await handlerModule.handler(event, { awsRequestId: 'req-43' } as Context)).statusCode).toBe(200);
    } finally {
      hold.holding = true;
    }
    expect(hold.handedOver).toEqual(['req-42']);
  });
});

describe('bad requests get a 4xx naming the field, never a 5xx', () => {
  const big = JSON.stringify({ features: { ...IRIS_FEATURES, petal_width: 0 } });
  const cases: { name: string; event: APIGatewayProxyEventV2; status: number; code: string; field?: string }[] = [
    {
      name: 'malformed JSON',
      event: post('/models/iris/predict', '{"features": {'),
      status: 400,
      code: 'malformed_json',
    },
    { name: 'an empty body', event: post('/models/iris/predict', ''), status: 400, code: 'empty_body' },
    { name: 'non-object JSON', event: post('/models/iris/predict', '"iris"'), status: 400, code: 'invalid_body' },
    {
      name: 'a wrong type',
      event: post('/models/iris/predict', {
        instances: [IRIS_FEATURES, IRIS_FEATURES, IRIS_FEATURES, { ...IRIS_FEATURES, petal_width: 'wide' }],
      }),
      status: 400,
      code: 'invalid_type',
      field: 'instances[3].petal_width',
    },
    {
      name: '1e999 (Infinity)',
      event: post('/models/iris/predict', big.replace('"petal_width":0', '"petal_width":1e999')),
      status: 400,
      code: 'not_finite',
      field: 'features.petal_width',
    },
    {
      name: 'an unknown feature',
      event: post('/models/iris/predict', { features: { ...IRIS_FEATURES, petal_colour: 1 } }),
      status: 400,
      code: 'unknown_feature',
      field: 'features.petal_colour',
    },
    {
      name: 'a missing feature',
      event: post('/models/iris/predict', { features: { sepal_length: 1, sepal_width: 1, petal_length: 1 } }),
      status: 400,
      code: 'missing_feature',
      field: 'features.petal_width',
    },
    {
      name: 'an unknown category',
      event: post('/models/ai4i2020/predict', { features: { ...MACHINE, Type: 'XL' } }),
      status: 400,
      code: 'unknown_category',
      field: 'features.Type',
    },
    {
      name: 'a wrong number of positional values',
      event: post('/models/iris/predict', [1, 2, 3]),
      status: 400,
      code: 'wrong_length',
    },
    {
      name: 'too long a text',
      event: post('/models/sentiment/predict', { features: { sentence: 'word '.repeat(4000) } }),
      status: 413,
      code: 'text_too_long',
      field: 'features.sentence',
    },
    {
      name: 'an oversized batch',
      event: post('/models/iris/predict', { instances: Array.from({ length: 1001 }, () => IRIS_FEATURES) }),
      status: 413,
      code: 'batch_too_large',
      field: 'instances',
    },
    {
      name: 'an oversized body',
      event: post('/models/iris/predict', JSON.stringify({ features: IRIS_FEATURES }).padEnd(1024 * 1024 + 1, ' ')),
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'invalid base64',
      event: post('/models/iris/predict', '%%%not-base64', { isBase64Encoded: true }),
      status: 400,
      code: 'invalid_base64',
    },
    {
      name: 'undecodable bytes',
      event: post('/models/iris/predict', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString('base64'), {
        isBase64Encoded: true,
      }),
      status: 400,
      code: 'invalid_utf8',
    },
    {
      name: 'a gzip bomb (64 KB that inflates to 50 MB)',
      event: gzipped(Buffer.alloc(50 * 1024 * 1024, 0x20)),
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'bytes that are not the gzip they say they are',
      event: post('/models/iris/predict', Buffer.from(JSON.stringify({ features: IRIS_FEATURES })).toString('base64'), {
        isBase64Encoded: true,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      }),
      status: 400,
      code: 'invalid_gzip',
      field: 'content-encoding',
    },
    {
      name: 'an encoding the API does not speak',
      event: post(
        '/models/iris/predict',
        { features: IRIS_FEATURES },
        { headers: { 'content-type': 'application/json', 'content-encoding': 'br' } },
      ),
      status: 415,
      code: 'unsupported_content_encoding',
      field: 'content-encoding',
    },
    {
      name: '__proto__',
      event: post('/models/iris/predict', `{"features": {"__proto__": {"polluted": 1}, "sepal_length": 1}}`),
      status: 400,
      code: 'unknown_feature',
      field: 'features.__proto__',
    },
    {
      name: 'constructor',
      event: post('/models/iris/predict', `{"instances": [{"constructor": {"prototype": {"polluted": 1}}}]}`),
      status: 400,
      code: 'unknown_feature',
      field: 'instances[0].constructor',
    },
    {
      name: 'an unknown model',
      event: post('/models/nope/predict', { features: IRIS_FEATURES }),
      status: 404,
      code: 'unknown_model',
    },
    {
      name: 'a model name the registry cannot hold',
      event: post('/models/..%2F..%2Fetc/predict', { features: IRIS_FEATURES }),
      status: 404,
      code: 'unknown_model',
    },
    {
      name: 'a bundled model the registry does not know',
      event: post('/models/ghost/predict', { features: IRIS_FEATURES }),
      status: 404,
      code: 'unknown_model',
    },
    { name: 'an unknown route', event: get('/nothing/here'), status: 404, code: 'not_found' },
    { name: 'GET on a POST route', event: get('/models/iris/predict'), status: 405, code: 'method_not_allowed' },
    {
      name: 'DELETE on a GET route',
      event: apiGatewayEvent({ method: 'DELETE', path: '/models' }),
      status: 405,
      code: 'method_not_allowed',
    },
  ];

  it.each(cases)('$name', async ({ event, status, code, field }) => {
    const res = await call(app, event);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ code, message: expect.any(String) });
    expect(res.json.error.field).toBe(field);
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers 405 with an Allow header', async () => {
    expect((await call(app, get('/models/iris/predict'))).headers.allow).toBe('POST');
    expect((await call(app, get('/predict'))).headers.allow).toBe('POST');
    expect((await call(app, post('/models', {}))).headers.allow).toBe('GET, HEAD');
  });

  it('answers HEAD wherever it answers GET: the same status and headers, no body (uptime checks, curl -I)', async () => {
    for (const path of ['/health', '/models', '/models/iris', '/']) {
      const head = (await handlerModule.handler(
        apiGatewayEvent({ method: 'HEAD', path }),
      )) as APIGatewayProxyStructuredResultV2;
      const full = (await handlerModule.handler(get(path))) as APIGatewayProxyStructuredResultV2;
      expect([path, head.statusCode, head.body]).toEqual([path, 200, undefined]);
      expect(head.headers?.['content-type']).toBe(full.headers?.['content-type']);
    }
    expect(await call(app, apiGatewayEvent({ method: 'HEAD', path: '/models/iris/predict' }))).toMatchObject({
      status: 405,
      headers: { allow: 'POST' },
    });
  });

  it('lists the allowed categories for an unknown category', async () => {
    const res = await call(app, post('/models/ai4i2020/predict', { features: { ...MACHINE, Type: 'XL' } }));
    expect(res.json.error).toMatchObject({
      allowed: ['H', 'L', 'M'],
      expected: expect.stringContaining('"H", "L", "M"'),
    });
  });
});

describe('model listing, health and the page', () => {
  it('GET /models lists every model with its champion schema', async () => {
    const res = await call(app, get('/models'));
    expect(res.status).toBe(200);
    expect(res.json.defaultModel).toBe('iris');
    const names = res.json.models.map((m: { name: string }) => m.name).sort();
    expect(names).toEqual(['ai4i2020', 'flowers', 'iris', 'iris-sklearn', 'mislabelling', 'sentiment']);
    const ai4i = res.json.models.find((m: { name: string }) => m.name === 'ai4i2020');
    expect(ai4i.features.find((f: { name: string }) => f.name === 'Type')).toEqual({
      name: 'Type',
      type: 'categorical',
      categories: ['H', 'L', 'M'],
    });
    expect(ai4i.metrics.accuracy).toBeGreaterThan(0.9);
    expect(ai4i.classNames).toEqual({ '0': 'no failure', '1': 'failure' });
    // Ranges are stored as float32; the listing shows the decimals they stand for.
    const iris = res.json.models.find((m: { name: string }) => m.name === 'iris');
    expect(iris.classNames).toBeUndefined();
    expect(iris.features.find((f: { name: string }) => f.name === 'sepal_length').range).toEqual({
      min: 4.4,
      max: 7.9,
    });
  });

  it('GET /models/{name} shows versions, aliases and metrics', async () => {
    const res = await call(app, get('/models/sentiment'));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      name: 'sentiment',
      aliases: { champion: 1 },
      champion: { version: 1, algorithm: 'nb', features: [{ name: 'sentence', type: 'text' }] },
    });
    expect(res.json.versions).toEqual([
      expect.objectContaining({
        version: 1,
        algorithm: 'nb',
        aliases: ['champion'],
        metrics: { accuracy: expect.any(Number), macroF1: expect.any(Number) },
      }),
    ]);
    expect(res.json.champion.metrics.holdout.accuracy).toBeGreaterThan(0.6);
    expect((await call(app, get('/models/nope'))).status).toBe(404);
  });

  it('GET /health reports the loaded models without calling the registry', async () => {
    await call(app, post('/models/iris/predict', { features: IRIS_FEATURES }));
    const res = await call(app, get('/health'));
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('ok');
    expect(res.json.models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'iris', version: 1, origin: 'registry', backend: 'onnxruntime' }),
      ]),
    );
  });

  it('GET / is a self-contained page with a form script and no external assets', async () => {
    const res = await call(app, get('/'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<form');
    expect(res.text).toMatch(/<script>[\s\S]*fetch\('models'\)[\s\S]*<\/script>/);
    expect(res.text).toContain("'textarea'");
    expect(res.text).not.toMatch(/https?:\/\//);
    expect(res.text).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
  });
});

describe('model lifecycle without a restart (TTL 50 ms)', () => {
  const flowers = (features: Record<string, number> = VIRGINICA) =>
    call(app, post('/models/flowers/predict', { features }));
  let second: number;

  it('picks up a promotion after the TTL, loading the new version once for concurrent requests', async () => {
    expect((await flowers()).json.version).toBe(1);
    const nb = train('iris', 'nb', 'flowers');
    second = (await registry.register('flowers', nb.onnx, nb.manifest, { actor: 'test' })).version;
    await registry.promote('flowers', second, actor);
    await afterTtl();
    const loadsBefore = recorded(INFERENCE_METRICS.modelLoadTime, 'flowers').length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => flowers()));
    expect(answers.map((a) => a.json.version)).toEqual(Array(20).fill(second));
    expect(recorded(INFERENCE_METRICS.modelLoadTime, 'flowers').length).toBe(loadsBefore + 1);
    expect(recorded(INFERENCE_METRICS.modelVersionInService, 'flowers').at(-1)?.value).toBe(second);
  });

  it('picks up a rollback after the TTL', async () => {
    await registry.rollback('flowers', actor);
    await afterTtl();
    expect((await flowers()).json.version).toBe(1);
  });

  it('refuses a version whose model.onnx no longer matches its sha256, and keeps serving the previous one', async () => {
    const lr = train('iris', 'lr', 'flowers', 7);
    const { version } = await registry.register('flowers', lr.onnx, lr.manifest, { actor: 'test' });
    const corrupted = Uint8Array.from(lr.onnx);
    corrupted[corrupted.length >> 1] ^= 0xff;
    await s3.store(BUCKET).put(`registry/flowers/versions/${version}/model.onnx`, corrupted);
    const failuresBefore = recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers').length;
    await registry.promote('flowers', version, actor);
    await afterTtl();
    expect((await flowers()).json.version).toBe(1);
    expect(recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers')).toHaveLength(failuresBefore + 1);
    expect(recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers').at(-1)).toEqual({
      name: 'ModelLoadFailures',
      unit: 'Count',
      value: 1,
      dimensions: { model: 'flowers' },
    });
    // Not retried while the alias stays put.
    await afterTtl();
    expect((await flowers()).json.version).toBe(1);
    expect(recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers')).toHaveLength(failuresBefore + 1);
  });

  it('refuses a version onnxruntime cannot load (checksum right, bytes not a model), then follows the alias again', async () => {
    const store = s3.store(BUCKET);
    const garbage = new TextEncoder().encode('this is not an ONNX model');
    const good = await registry.getManifest('flowers', 1);
    const version = 99;
    const manifest: ModelManifest = { ...good, version, sha256: sha256Hex(garbage) };
    await store.put(`registry/flowers/versions/${version}/model.onnx`, garbage);
    await store.put(`registry/flowers/versions/${version}/manifest.json`, JSON.stringify(manifest));
    const failuresBefore = recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers').length;
    await registry.promote('flowers', version, actor);
    await afterTtl();
    expect((await flowers()).json.version).toBe(1);
    expect(recorded(INFERENCE_METRICS.modelLoadFailures, 'flowers')).toHaveLength(failuresBefore + 1);
    await registry.promote('flowers', second, actor);
    await afterTtl();
    expect((await flowers()).json.version).toBe(second);
  });
});

describe('S3 unreachable at cold start', () => {
  it('serves the bundled model, and says so in /health and the metrics', async () => {
    const iris = train('iris', 'lr', 'iris');
    const dir = join(scratch, 'bundled-down');
    mkdirSync(join(dir, 'iris'), { recursive: true });
    writeFileSync(join(dir, 'iris', 'model.onnx'), iris.onnx);
    writeFileSync(join(dir, 'iris', 'manifest.json'), JSON.stringify({ ...iris.manifest, version: 7 }));
    const seen: MetricRecord[] = [];
    const down = handlerModule.buildInferenceApp(
      loadConfig({
        ...process.env,
        AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
        BUNDLED_MODELS_DIR: dir,
        DEFAULT_MODEL: 'iris',
      }),
      { metricListener: (m) => seen.push(m) },
    );

    const res = await call(down, post('/models/iris/predict', { features: IRIS_FEATURES }));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model: 'iris', version: 7, predictions: [{ label: 'Iris-setosa' }] });
    expect(seen.map((m) => m.name)).toEqual(
      expect.arrayContaining([INFERENCE_METRICS.modelLoadFailures, INFERENCE_METRICS.bundledModelFallbacks]),
    );
    expect((await call(down, get('/health'))).json.models).toEqual([
      expect.objectContaining({ name: 'iris', version: 7, origin: 'bundled' }),
    ]);
    // Without a bundled copy there is nothing to serve: 503, not a 4xx blaming the caller.
    expect(await call(down, post('/models/sentiment/predict', { features: { sentence: 'fine' } }))).toMatchObject({
      status: 503,
      json: { error: { code: 'model_unavailable' } },
    });
    expect(await call(down, get('/models'))).toMatchObject({
      status: 503,
      json: { error: { code: 'registry_unavailable' } },
    });
  });
});
