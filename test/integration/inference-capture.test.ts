import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type CaptureRecord, FEEDBACK_PREFIX, type FeedbackRecord } from '../../core/monitoring/contract';
import { captureRecordsOf } from '../../core/monitoring/captured-request';
import { INFERENCE_ID_HEADER } from '../../core/monitoring/inference-id';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import type { InferenceApp } from '../../lambdas/inference/app';
import { buildInferenceApp } from '../../lambdas/inference/build-app';
import { type CaptureSink, MAX_CAPTURE_LINE_BYTES } from '../../lambdas/inference/capture';
import { loadConfig } from '../../lambdas/inference/config';
import { INFERENCE_METRICS, type MetricRecord } from '../../lambdas/inference/metrics';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

// Data capture and feedback through the real app: a real S3 server (registry and data bucket),
// real onnxruntime, the capture sink observed in memory.

setQuietHandlerEnv('models');

const post = (path: string, body: unknown) =>
  apiGatewayEvent({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.8, petal_width: 2.2 };

let s3: TestS3;
let app: InferenceApp;
const lines: { model: string; lines: string }[] = [];
let failing = false;
const sink: CaptureSink = {
  write(model, text) {
    if (failing) throw new Error('sink down');
    lines.push({ model, lines: text });
  },
};
const metrics: MetricRecord[] = [];
/** The sink's lines as the monitoring job reads them: one record per instance. */
const captured = (): CaptureRecord[] =>
  lines.flatMap((l) =>
    l.lines
      .trim()
      .split('\n')
      .flatMap((line) => {
        const records = captureRecordsOf(JSON.parse(line));
        if (!records) throw new Error(`not a capture line: ${line}`);
        return records;
      }),
  );
const rawLines = () => lines.flatMap((l) => l.lines.trim().split('\n'));

async function call(event: APIGatewayProxyEventV2) {
  const result = await app.handle(event);
  return {
    status: result.statusCode ?? 0,
    headers: result.headers ?? {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk the JSON answer
    json: JSON.parse(result.body ?? 'null') as any,
  };
}

beforeAll(async () => {
  s3 = await startTestS3(['models', 'data']);
  const registry = new ModelRegistry(s3.store('models'), new OnnxModelValidator());
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: ['lr'] });
  for (const name of ['iris', 'private']) {
    const model = exportModel(run, run.best, name, table.sources);
    const { version } = await registry.register(name, model.onnx, model.manifest, { actor: 'test' });
    await registry.promote(name, version, { actor: 'test', reason: 'capture test' });
  }
  const config = loadConfig({
    ...process.env,
    AWS_ENDPOINT_URL: s3.server.endpoint,
    DATA_BUCKET: 'data',
    CAPTURE_SETTINGS: JSON.stringify({
      iris: { enabled: true, sampleRate: 1, retentionDays: 30 },
      private: { enabled: false, sampleRate: 1, retentionDays: 30 },
    }),
  });
  app = buildInferenceApp(config, { captureSink: sink, metricListener: (m) => metrics.push(m) });
});

afterAll(async () => {
  await s3.close();
});

beforeEach(() => {
  lines.length = 0;
  metrics.length = 0;
  failing = false;
});

describe('inference ids and data capture', () => {
  it('gives a one-instance answer one id, in the header, the body and its capture record', async () => {
    const answer = await call(post('/models/iris/predict', { features: SETOSA }));
    expect(answer.status).toBe(200);
    const id = answer.headers[INFERENCE_ID_HEADER];
    expect(answer.json.inferenceId).toBe(id);
    expect(answer.json.predictions[0].inferenceId).toBe(id);
    const [record, ...more] = captured();
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      kind: 'inference-capture',
      inferenceId: id,
      model: 'iris',
      version: 1,
      variant: 'champion',
      features: SETOSA,
      label: answer.json.predictions[0].label,
      probabilities: answer.json.predictions[0].probabilities,
    });
    expect(record.latencyMs).toBeGreaterThan(0);
    expect(Math.abs(Date.parse(record.time) - Date.now())).toBeLessThan(10_000);
    expect(metrics.find((m) => m.name === INFERENCE_METRICS.capturedInstances)).toMatchObject({
      value: 1,
      dimensions: { model: 'iris' },
    });
  });

  it('gives each instance of a batch its own id and record, in order', async () => {
    const answer = await call(
      post('/models/iris/predict', { instances: [SETOSA, VIRGINICA, { ...SETOSA, petal_width: null }] }),
    );
    const id = answer.headers[INFERENCE_ID_HEADER] as string;
    expect(answer.json.predictions.map((p: { inferenceId: string }) => p.inferenceId)).toEqual([
      `${id}.0`,
      `${id}.1`,
      `${id}.2`,
    ]);
    const records = captured();
    expect(records.map((r) => r.inferenceId)).toEqual([`${id}.0`, `${id}.1`, `${id}.2`]);
    expect(records[2].features.petal_width).toBeNull();
    expect(records.map((r) => r.label)).toEqual(answer.json.predictions.map((p: { label: string }) => p.label));
  });

  it('writes a request as one line of its own body and answer, whatever its form; features sent as arrays get their names', async () => {
    const pretty = JSON.stringify({ instances: [SETOSA, Object.values(VIRGINICA)] }, null, 2);
    const answer = await call(
      apiGatewayEvent({
        method: 'POST',
        path: '/models/iris/predict',
        headers: { 'content-type': 'application/json' },
        body: pretty,
      }),
    );
    expect(answer.status).toBe(200);
    expect(rawLines()).toHaveLength(1);
    expect(JSON.parse(rawLines()[0])).toMatchObject({
      kind: 'inference-capture',
      requestId: answer.json.inferenceId,
      featureNames: Object.keys(SETOSA),
      request: { instances: [SETOSA, Object.values(VIRGINICA)] },
    });
    expect(captured().map((r) => r.features)).toEqual([SETOSA, VIRGINICA]);
    lines.length = 0;
    await call(post('/models/iris/predict', Object.values(VIRGINICA)));
    expect(captured().map((r) => r.features)).toEqual([VIRGINICA]);
  });

  it('writes a request too large for one log event as one line per instance', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...SETOSA, sepal_length: 5 + i / 1000 + 0.000123456789 }));
    const answer = await call(post('/models/iris/predict', { instances: many }));
    expect(answer.status).toBe(200);
    expect(rawLines()).toHaveLength(1000);
    for (const line of rawLines()) expect(Buffer.byteLength(line)).toBeLessThan(MAX_CAPTURE_LINE_BYTES);
    expect(captured().map((r) => r.inferenceId)).toEqual(
      answer.json.predictions.map((p: { inferenceId: string }) => p.inferenceId),
    );
    expect(captured()[999].features).toEqual(many[999]);
  });

  it('captures nothing of a model whose capture is off, and of refused requests', async () => {
    expect((await call(post('/models/private/predict', { features: SETOSA }))).status).toBe(200);
    expect((await call(post('/models/iris/predict', { features: { ...SETOSA, petal_width: 'wide' } }))).status).toBe(
      400,
    );
    expect(captured()).toEqual([]);
  });

  it('answers the same when the capture fails, and counts the failure', async () => {
    failing = true;
    const answer = await call(post('/models/iris/predict', { features: SETOSA }));
    expect(answer.status).toBe(200);
    expect(answer.json.predictions[0].label).toBe('Iris-setosa');
    expect(metrics.find((m) => m.name === INFERENCE_METRICS.captureErrors)).toMatchObject({
      value: 1,
      dimensions: { model: 'iris' },
    });
  });
});

describe('GET /models/{name}', () => {
  it("shows the champion's baseline (what drift is measured against) and the capture settings", async () => {
    const answer = await call(apiGatewayEvent({ method: 'GET', path: '/models/iris' }));
    expect(answer.json.capture).toEqual({ enabled: true, sampleRate: 1, retentionDays: 30 });
    const { baseline } = answer.json.champion;
    expect(baseline.features.map((f: { feature: string }) => f.feature)).toEqual([
      'sepal_length',
      'sepal_width',
      'petal_length',
      'petal_width',
    ]);
    expect(Object.keys(baseline.predictions)).toEqual(['Iris-setosa', 'Iris-versicolor', 'Iris-virginica']);
    expect((await call(apiGatewayEvent({ method: 'GET', path: '/models/private' }))).json.capture.enabled).toBe(false);
  });
});

describe('POST /models/{name}/feedback', () => {
  it('stores labels for the ids answers gave, as JSON lines under feedback/<model>/', async () => {
    const one = await call(post('/models/iris/predict', { features: SETOSA }));
    const batch = await call(post('/models/iris/predict', { instances: [SETOSA, VIRGINICA] }));
    const ids = [one.json.inferenceId, ...batch.json.predictions.map((p: { inferenceId: string }) => p.inferenceId)];
    expect((await call(post('/models/iris/feedback', { inferenceId: ids[0], label: 'Iris-setosa' }))).json).toEqual({
      model: 'iris',
      accepted: 1,
    });
    const answer = await call(
      post('/models/iris/feedback', {
        feedback: [
          { inferenceId: ids[1], label: 'Iris-setosa' },
          { inferenceId: ids[2], label: 'Iris-virginica' },
        ],
      }),
    );
    expect(answer).toMatchObject({ status: 200, json: { accepted: 2 } });
    const store = s3.store('data');
    const keys = await store.list(`${FEEDBACK_PREFIX}iris/date=`);
    expect(keys).toHaveLength(2);
    const stored: FeedbackRecord[] = [];
    for (const key of keys)
      stored.push(
        ...new TextDecoder()
          .decode((await store.get(key))?.body)
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as FeedbackRecord),
      );
    expect(stored.map((r) => [r.inferenceId, r.label]).sort()).toEqual(
      [
        [ids[0], 'Iris-setosa'],
        [ids[1], 'Iris-setosa'],
        [ids[2], 'Iris-virginica'],
      ].sort(),
    );
    expect(metrics.filter((m) => m.name === INFERENCE_METRICS.feedbackLabels).map((m) => m.value)).toEqual([1, 2]);
  });

  it("refuses an unknown label, another model's id and a model without capture, storing nothing", async () => {
    const before = (await s3.store('data').list(FEEDBACK_PREFIX)).length;
    const iris = await call(post('/models/iris/predict', { features: SETOSA }));
    const other = await call(post('/models/private/predict', { features: SETOSA }));
    expect(
      await call(post('/models/iris/feedback', { inferenceId: iris.json.inferenceId, label: 'rose' })),
    ).toMatchObject({ status: 400, json: { error: { code: 'unknown_label', field: 'label' } } });
    expect(
      await call(post('/models/iris/feedback', { inferenceId: other.json.inferenceId, label: 'Iris-setosa' })),
    ).toMatchObject({ status: 404, json: { error: { code: 'unknown_inference_id', field: 'inferenceId' } } });
    expect(
      await call(post('/models/private/feedback', { inferenceId: other.json.inferenceId, label: 'Iris-setosa' })),
    ).toMatchObject({ status: 409, json: { error: { code: 'capture_disabled' } } });
    expect(
      await call(post('/models/nosuch/feedback', { inferenceId: iris.json.inferenceId, label: 'Iris-setosa' })),
    ).toMatchObject({ status: 404, json: { error: { code: 'unknown_model' } } });
    expect(await call(apiGatewayEvent({ method: 'GET', path: '/models/iris/feedback' }))).toMatchObject({
      status: 405,
    });
    expect((await s3.store('data').list(FEEDBACK_PREFIX)).length).toBe(before);
  });
});
