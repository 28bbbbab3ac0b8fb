import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { CaptureRecord } from '../../core/monitoring/contract';
import { captureRecordsOf } from '../../core/monitoring/captured-request';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { type RoutingDocument, routingKey } from '../../core/registry/routing';
import type { S3ObjectStore } from '../../core/s3-object-store';
import type { InferenceApp } from '../../lambdas/inference/app';
import { buildInferenceApp } from '../../lambdas/inference/build-app';
import type { CaptureSink } from '../../lambdas/inference/capture';
import { loadConfig } from '../../lambdas/inference/config';
import { INFERENCE_METRICS, type MetricRecord } from '../../lambdas/inference/metrics';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

// The columnar batch body ({"columns": {...}}) through the real app: real S3 server, real
// onnxruntime; answers compared with the same rows sent as instances, refusals, capture, shadow.

setQuietHandlerEnv('models');

const IRIS_ROWS = [
  { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.8, petal_width: 2.2 },
  { sepal_length: 6.0, sepal_width: 2.7, petal_length: 4.5, petal_width: 1.5 },
  { sepal_length: 6.3, sepal_width: 2.8, petal_length: 5.0, petal_width: null },
];
const AI4I_ROW = {
  Type: 'M',
  'Air temperature [K]': 298.1,
  'Process temperature [K]': 308.6,
  'Rotational speed [rpm]': 1551,
  'Torque [Nm]': 42.8,
  'Tool wear [min]': 0,
};
type Row = Readonly<Record<string, number | string | null>>;
const toColumns = (rows: readonly Row[]) => {
  const columns: Record<string, (number | string | null)[]> = {};
  for (const row of rows) for (const [name, value] of Object.entries(row)) (columns[name] ??= []).push(value);
  return columns;
};

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  apiGatewayEvent({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

let s3: TestS3;
let store: S3ObjectStore;
let app: InferenceApp;
const lines: string[] = [];
const sink: CaptureSink = { write: (_model, text) => lines.push(...text.trim().split('\n')) };
const metrics: MetricRecord[] = [];

async function call(event: APIGatewayProxyEventV2) {
  const result = await app.handle(event);
  await app.settled();
  return {
    status: result.statusCode ?? 0,
    headers: result.headers ?? {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk the JSON answer
    json: JSON.parse(result.body ?? 'null') as any,
  };
}

beforeAll(async () => {
  s3 = await startTestS3(['models', 'data']);
  store = s3.store('models');
  const registry = new ModelRegistry(store, new OnnxModelValidator());
  const iris = loadDataset(DATASETS.iris);
  const run = trainCandidates(iris, { ...trainOptionsFor(DATASETS.iris), algorithms: ['lr', 'nb'] });
  const lr = run.candidates.find((c) => c.algorithm === 'lr');
  const nb = run.candidates.find((c) => c.algorithm === 'nb');
  if (!lr || !nb) throw new Error('lr and nb must both train');
  for (const name of ['iris', 'shadowed']) {
    for (const candidate of [lr, nb]) {
      const model = exportModel(run, candidate, name, iris.sources);
      await registry.register(name, model.onnx, model.manifest, { actor: 'test' });
    }
    await registry.promote(name, 1, { actor: 'test', reason: 'columns test' });
  }
  const ai4i = loadDataset(DATASETS.ai4i2020);
  const ai4iRun = trainCandidates(ai4i, { ...trainOptionsFor(DATASETS.ai4i2020), algorithms: ['lr'] });
  const ai4iModel = exportModel(ai4iRun, ai4iRun.best, 'ai4i2020', ai4i.sources);
  await registry.register('ai4i2020', ai4iModel.onnx, ai4iModel.manifest, { actor: 'test' });
  await registry.promote('ai4i2020', 1, { actor: 'test', reason: 'columns test' });
  const at = new Date().toISOString();
  const routing: RoutingDocument = {
    model: 'shadowed',
    champion: 1,
    shadow: { version: 2, sample: 100, startedAt: at },
    updatedAt: at,
    actor: 'test',
    reason: 'columns test',
  };
  await store.put(routingKey('shadowed'), JSON.stringify(routing));
  const config = loadConfig({
    ...process.env,
    AWS_ENDPOINT_URL: s3.server.endpoint,
    DATA_BUCKET: 'data',
    MAX_BATCH: '50',
    CAPTURE_SETTINGS: JSON.stringify({ iris: { enabled: true, sampleRate: 1, retentionDays: 30 } }),
  });
  app = buildInferenceApp(config, { captureSink: sink, metricListener: (m) => metrics.push(m) });
}, 120_000);

afterAll(async () => {
  await s3.close();
});

beforeEach(() => {
  lines.length = 0;
  metrics.length = 0;
});

describe('columnar batch body', () => {
  it('answers in columns exactly what the same rows sent as instances answer', async () => {
    const rows = await call(post('/models/iris/predict', { instances: IRIS_ROWS }));
    const columns = await call(post('/models/iris/predict', { columns: toColumns(IRIS_ROWS) }));
    expect(rows.status).toBe(200);
    expect(columns.status).toBe(200);
    expect(columns.json).toMatchObject({ model: 'iris', version: 1, count: IRIS_ROWS.length });
    expect(columns.headers['x-inference-id']).toBe(columns.json.inferenceId);
    expect(columns.json.labels).toEqual(rows.json.predictions.map((p: { label: string }) => p.label));
    // Three different labels: a mix-up of rows or classes cannot pass by luck.
    expect(new Set(columns.json.labels).size).toBe(3);
    for (const cls of Object.keys(rows.json.predictions[0].probabilities)) {
      expect(columns.json.probabilities[cls]).toEqual(
        rows.json.predictions.map((p: { probabilities: Record<string, number> }) => p.probabilities[cls]),
      );
    }
    expect(columns.json.predictions).toBeUndefined();
  });

  it('takes categorical columns (ai4i2020 Type) and a gzip-compressed body', async () => {
    const rows = [AI4I_ROW, { ...AI4I_ROW, Type: ' L ', 'Tool wear [min]': 240, 'Torque [Nm]': 70 }];
    const byRows = await call(post('/models/ai4i2020/predict', { instances: rows }));
    const byColumns = await call(
      post('/models/ai4i2020/predict', gzipSync(JSON.stringify({ columns: toColumns(rows) })), {
        'content-encoding': 'gzip',
      }),
    );
    expect(byRows.status).toBe(200);
    expect(byColumns.status).toBe(200);
    expect(byColumns.json.labels).toEqual(byRows.json.predictions.map((p: { label: string }) => p.label));
  });

  it('POST /predict chooses the model whose features the column names are', async () => {
    const answer = await call(post('/predict', { columns: toColumns([AI4I_ROW]) }));
    expect(answer.status).toBe(200);
    expect(answer.json.model).toBe('ai4i2020');
    // iris and shadowed take the same features: named columns cannot choose between them.
    const ambiguous = await call(post('/predict', { columns: toColumns(IRIS_ROWS) }));
    expect(ambiguous.json.error).toMatchObject({ code: 'model_not_determined' });
  });

  it('returns 400 naming the column and the first bad index for a value of the wrong type', async () => {
    const columns = toColumns(IRIS_ROWS) as Record<string, unknown[]>;
    columns.petal_length = [1.4, 5.8, 'wide', 'long'];
    const answer = await call(post('/models/iris/predict', { columns }));
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ code: 'invalid_type', field: 'columns.petal_length[2]' });
    expect(answer.json.error.message).toContain('columns.petal_length[2] must be a finite number');
  });

  it('returns 400 for an unknown category at its index, a missing column and an unknown one', async () => {
    const bad = await call(
      post('/models/ai4i2020/predict', {
        columns: {
          Type: ['M', 'X'],
          'Air temperature [K]': [298, 298],
          'Process temperature [K]': [308, 308],
          'Rotational speed [rpm]': [1500, 1500],
          'Torque [Nm]': [40, 40],
          'Tool wear [min]': [0, 0],
        },
      }),
    );
    expect(bad.json.error).toMatchObject({ code: 'unknown_category', field: 'columns.Type[1]' });
    const three: Record<string, unknown> = toColumns(IRIS_ROWS);
    delete three.petal_width;
    const missing = await call(post('/models/iris/predict', { columns: three }));
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({ code: 'missing_feature', field: 'columns.petal_width' });
    const unknown = await call(
      post('/models/iris/predict', { columns: { ...toColumns(IRIS_ROWS), colour: [1, 2, 3, 4] } }),
    );
    expect(unknown.json.error).toMatchObject({ code: 'unknown_feature', field: 'columns.colour' });
  });

  it('returns 400 for columns of unequal length, a column that is not an array, and no values', async () => {
    const columns = toColumns(IRIS_ROWS);
    const unequal = await call(post('/models/iris/predict', { columns: { ...columns, petal_width: [0.2, 2.2] } }));
    expect(unequal.status).toBe(400);
    expect(unequal.json.error).toMatchObject({ code: 'unequal_columns', field: 'columns.petal_width' });
    expect(unequal.json.error.message).toBe('columns.petal_width has 2 values but columns.sepal_length has 4');
    const notArray = await call(post('/models/iris/predict', { columns: { ...columns, sepal_width: 3.5 } }));
    expect(notArray.json.error).toMatchObject({ code: 'invalid_column', field: 'columns.sepal_width' });
    const empty = await call(
      post('/models/iris/predict', {
        columns: { sepal_length: [], sepal_width: [], petal_length: [], petal_width: [] },
      }),
    );
    expect(empty.json.error).toMatchObject({ code: 'empty_batch' });
    const extra = await call(post('/models/iris/predict', { columns, instances: IRIS_ROWS }));
    expect(extra.status).toBe(400);
  });

  it('returns 413 batch_too_large for more rows than the batch limit, as for instances', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ ...IRIS_ROWS[i % 4] }));
    const answer = await call(post('/models/iris/predict', { columns: toColumns(many) }));
    expect(answer.status).toBe(413);
    expect(answer.json.error).toMatchObject({ code: 'batch_too_large', field: 'columns.sepal_length' });
    const asRows = await call(post('/models/iris/predict', { instances: many }));
    expect(asRows.status).toBe(413);
    const limit = await call(post('/models/iris/predict', { columns: toColumns(many.slice(0, 50)) }));
    expect(limit.status).toBe(200);
    expect(limit.json.labels).toHaveLength(50);
  });

  it('captures the columns as sent; the monitoring reader gets one record per instance, as for rows', async () => {
    const answer = await call(post('/models/iris/predict', { columns: toColumns(IRIS_ROWS) }));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).request).toEqual({ columns: toColumns(IRIS_ROWS) });
    const records = captureRecordsOf(JSON.parse(lines[0])) as CaptureRecord[];
    expect(records.map((r) => r.inferenceId)).toEqual(IRIS_ROWS.map((_, i) => `${answer.json.inferenceId}.${i}`));
    expect(records.map((r) => ({ ...r.features }))).toEqual(IRIS_ROWS);
    expect(records.map((r) => r.label)).toEqual(answer.json.labels);
    expect(records[1].probabilities).toEqual(
      Object.fromEntries(Object.entries(answer.json.probabilities).map(([c, p]) => [c, (p as number[])[1]])),
    );
    const counted = metrics.find((m) => m.name === INFERENCE_METRICS.capturedInstances);
    expect(counted?.value).toBe(IRIS_ROWS.length);
  });

  it('scores a columnar request with the shadow too, after the answer', async () => {
    const answer = await call(post('/models/shadowed/predict', { columns: toColumns(IRIS_ROWS) }));
    expect(answer.status).toBe(200);
    expect(metrics.find((m) => m.name === INFERENCE_METRICS.shadowPredictions)).toMatchObject({
      value: IRIS_ROWS.length,
    });
    expect(metrics.find((m) => m.name === INFERENCE_METRICS.shadowErrors)).toBeUndefined();
    const agreement = metrics.find((m) => m.name === INFERENCE_METRICS.shadowAgreement);
    expect(agreement?.value).toBeGreaterThan(0);
  });
});
