import fc from 'fast-check';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import type { InferenceApp } from '../../lambdas/inference/app';
import { loadConfig } from '../../lambdas/inference/config';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * Random request bodies against the real handler app, a real iris model in onnxruntime and the
 * registry on a local S3 server: whatever arrives, the answer is never a 5xx, every 4xx carries
 * error.code and error.message, and every 200 has one valid prediction per instance.
 */

setQuietHandlerEnv('models');

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];
const PATHS = ['/models/iris/predict', '/predict'];
const MAX_BATCH = 50;

let s3: TestS3;
let app: InferenceApp;
let runs = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  s3 = await startTestS3(['models']);
  const registry = new ModelRegistry(s3.store('models'), new OnnxModelValidator());
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: ['lr'] });
  const model = exportModel(run, run.best, 'iris', table.sources);
  const { version } = await registry.register('iris', model.onnx, model.manifest, { actor: 'test' });
  await registry.promote('iris', version, { actor: 'test', reason: 'fuzz' });
  process.env.AWS_ENDPOINT_URL = s3.server.endpoint;
  const { buildInferenceApp } = await import('../../lambdas/inference/handler');
  app = buildInferenceApp(
    loadConfig({
      ...process.env,
      DEFAULT_MODEL: 'iris',
      MAX_BATCH: String(MAX_BATCH),
      MAX_BODY_BYTES: String(256 * 1024),
    }),
  );
});

afterAll(async () => {
  await s3.close();
  delete process.env.AWS_ENDPOINT_URL;
});

/** The property every answer must have. */
async function expectSaneAnswer(event: APIGatewayProxyEventV2): Promise<void> {
  runs++;
  const res = await app.handle(event);
  const status = res.statusCode ?? 0;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const json = JSON.parse(res.body ?? '') as {
    error?: { code?: unknown; message?: unknown };
    predictions?: { label: string }[];
  };
  if (status >= 500 || status < 200)
    throw new Error(`status ${status} for body ${JSON.stringify(event.body?.slice(0, 300))}: ${res.body}`);
  if (status >= 400) {
    expect(typeof json.error?.code).toBe('string');
    expect(typeof json.error?.message).toBe('string');
    expect(res.body).not.toMatch(/\n\s+at /);
  } else {
    expect(status).toBe(200);
    expect(json.predictions?.length).toBeGreaterThan(0);
    for (const p of json.predictions ?? []) expect(CLASSES).toContain(p.label);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

const request = (body: string, path: string, isBase64Encoded = false) =>
  apiGatewayEvent({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body, isBase64Encoded });

const path = fc.constantFrom(...PATHS);

/** Feature-like keys, including ones that could pollute prototypes. */
const key = fc.oneof(
  fc.constantFrom(
    ...FEATURES,
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'features',
    'instances',
    '',
  ),
  fc.string({ maxLength: 12 }),
);

/** Values of every JSON type, the right one often enough to get past the first check. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  fc.double(),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('5.1', 'NaN', 'Infinity', '', ' '),
  fc.jsonValue({ maxDepth: 3 }),
);

const instance = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(Object.fromEntries(FEATURES.map((f) => [f, value])) as Record<string, fc.Arbitrary<unknown>>, {
      requiredKeys: [],
    }),
  },
  { weight: 2, arbitrary: fc.dictionary(key, value, { maxKeys: 6 }) },
  fc.array(value, { maxLength: 6 }),
  value,
);

/** Valid instances, named or positional, some values missing (null): these reach onnxruntime. */
const measurement = fc.oneof({ weight: 5, arbitrary: fc.double({ min: 0, max: 10, noNaN: true }) }, fc.constant(null));
const validInstance = fc.oneof(
  fc.record(Object.fromEntries(FEATURES.map((f) => [f, measurement])) as Record<string, fc.Arbitrary<number | null>>),
  fc.tuple(measurement, measurement, measurement, measurement),
);

const envelope = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.array(validInstance, { minLength: 1, maxLength: MAX_BATCH + 2 }).map((instances) => ({ instances })),
  },
  validInstance.map((features) => ({ features })),
  instance.map((features) => ({ features })),
  fc.array(instance, { maxLength: MAX_BATCH + 5 }).map((instances) => ({ instances })),
  fc.array(value, { maxLength: 6 }),
  fc.dictionary(key, instance, { maxKeys: 3 }),
);

/** Raw JSON texts JSON.stringify cannot produce: huge numbers, deep nesting, duplicate and prototype keys. */
const pathological = fc.oneof(
  fc
    .constantFrom('1e999', '-1e999', '1e-999', '123456789012345678901234567890', '-0')
    .map((n) => `{"features":{"sepal_length":${n},"sepal_width":1,"petal_length":1,"petal_width":1}}`),
  fc.integer({ min: 1, max: 50_000 }).map((depth) => `{"features":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.integer({ min: 1, max: 50_000 }).map((depth) => `${'{"instances":['.repeat(depth)}${']}'.repeat(depth)}`),
  fc
    .integer({ min: 1, max: 20_000 })
    .map((depth) => `{"features":{"petal_width":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`),
  fc.integer({ min: 1, max: 300_000 }).map((n) => `{"features":{"sepal_length":"${'x'.repeat(n)}"}}`),
  fc.constantFrom(
    '{"features":{"__proto__":{"polluted":true},"sepal_length":1,"sepal_width":1,"petal_length":1,"petal_width":1}}',
    '{"instances":[{"constructor":{"prototype":{"polluted":true}}}]}',
    '{"features":{"sepal_length":1,"sepal_length":"x","sepal_width":1,"petal_length":1,"petal_width":1}}',
    '{"__proto__":{"instances":[]}}',
    '[1,2,3,4]',
    '\ufeff{"features":[1,2,3,4]}',
  ),
  fc.json({ maxDepth: 4 }).map((text) => text.slice(0, Math.max(1, text.length - 1))),
);

describe('inference handler under random bodies', () => {
  it('never answers 5xx to arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 5 }), path, async (body, p) => expectSaneAnswer(request(body, p))),
      { numRuns: 1500 },
    );
  });

  it('never answers 5xx to random envelopes with feature-like keys and wrong types', async () => {
    await fc.assert(
      fc.asyncProperty(envelope, path, async (body, p) => expectSaneAnswer(request(JSON.stringify(body), p))),
      { numRuns: 3000 },
    );
  });

  it('never answers 5xx to huge numbers, deep nesting, long strings and prototype keys', async () => {
    await fc.assert(
      fc.asyncProperty(pathological, path, async (body, p) => expectSaneAnswer(request(body, p))),
      { numRuns: 800 },
    );
  });

  it('never answers 5xx to arbitrary bytes sent as base64 (mostly invalid UTF-8), or to broken base64', async () => {
    const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64'));
    const broken = fc.string({ maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytes, broken), path, async (body, p) => expectSaneAnswer(request(body, p, true))),
      { numRuns: 1000 },
    );
  });

  it('ran thousands of bodies, enough of them valid to reach the model', () => {
    expect(runs).toBeGreaterThanOrEqual(6000);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(500);
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
  });
});
