import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { METRICS_SERVICES } from '../../core/contracts/metrics';
import type { StepRequest } from '../../core/pipeline/contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { type RoutingDocument, routingKey } from '../../core/registry/routing';
import { buildInferenceApp } from '../../lambdas/inference/build-app';
import type { CaptureSink } from '../../lambdas/inference/capture';
import { loadConfig } from '../../lambdas/inference/config';
import { createMonitoringRunner } from '../../lambdas/monitoring/runner';
import { createStepRunner } from '../../lambdas/pipeline/runner';
import { METRICS_NAMESPACE, type MetricRecord, memoryRecorder } from '../../lambdas/shared/metrics';
import { apiGatewayEvent } from '../../local/api-gateway-event';
import { synthesisedPipeline, SNS_PUBLISH } from '../../local/local-pipeline';
import { executionNameFor, LocalExecutions } from '../../local/pipeline-executions';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel, type ExportedModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import type { AlgorithmName } from '../../training/algorithms/types';
import { drawnMetrics } from '../infra/dashboard-body';
import { platform, SPECS } from '../infra/platform';
import { failsAbove } from '../helpers/failing-model';
import { NO_MANAGED_TRAINING } from '../helpers/lambda-only';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';
import {
  captureRecords,
  championSource,
  putCapture,
  putFeedback,
  recordingStarter,
  seeded,
  trainingBaseline,
} from '../helpers/monitoring-data';

/**
 * Every custom metric the CloudWatch dashboard draws is one the functions actually emit, with the
 * drawn `service` and dimension names: observed by running the functions' real code paths (the
 * inference app, the synthesised retraining state machine over the pipeline's step runner, the
 * monitoring runner) with in-memory recorders, rather than by reading their source.
 */

setQuietHandlerEnv('models');

/** "<name> service=<service> {<sorted dimension names>}": what one emitted or drawn metric looks like on CloudWatch. */
const signature = (name: string, service: string, dimensions: readonly string[]) =>
  `${name} service=${service} {${[...dimensions].sort().join(',')}}`;

const emitted = new Set<string>();
/** A listener that notes what a function with this service emits (Powertools adds `service` to every record). */
const noting =
  (service: string) =>
  (m: MetricRecord): void => {
    emitted.add(signature(m.name, service, [...Object.keys(m.dimensions), 'service']));
  };

const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.8, petal_width: 2.2 };
const IRIS_CSV = readFileSync(join(__dirname, '../../training/datasets/iris.csv'), 'utf8');

function train(algorithm: AlgorithmName): ExportedModel {
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: [algorithm] });
  return exportModel(run, run.best, 'iris', table.sources);
}

const post = (path: string, body: unknown): APIGatewayProxyEventV2 =>
  apiGatewayEvent({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** A port nothing listens on: S3 "down". */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let s3: TestS3;
const scratch = mkdtempSync(join(tmpdir(), 'emitted-metrics-'));

beforeAll(async () => {
  s3 = await startTestS3(['models', 'data', 'firehose-data']);
}, 60_000);

afterAll(async () => {
  await s3.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('inference: predictions, a 4xx, a 5xx, cold start and model loads, canary, shadow, routing errors, capture and feedback', async () => {
  const models = s3.store('models');
  const registry = new ModelRegistry(models, new OnnxModelValidator());
  const lr = train('lr');
  const nb = train('nb');
  const failing = failsAbove(lr, 'petal_length', 5);
  for (const model of ['iris', 'unshadowable', 'garbled']) {
    for (const version of [lr, nb, failing])
      await registry.register(model, version.onnx, version.manifest, { actor: 'test' });
    await registry.promote(model, 1, { actor: 'test', reason: 'metrics test' });
  }
  const at = new Date().toISOString();
  const routing = (model: string, routes: Partial<RoutingDocument>): RoutingDocument => ({
    model,
    champion: 1,
    updatedAt: at,
    actor: 'test',
    reason: 'metrics test',
    ...routes,
  });
  // iris: every caller in a canary that fails on long petals, every request shadowed by v2.
  await models.put(
    routingKey('iris'),
    JSON.stringify(
      routing('iris', {
        canary: { rolloutId: 'r1', startedAt: at, version: 3, weight: 100 },
        shadow: { startedAt: at, version: 2, sample: 100 },
      }),
    ),
  );
  // unshadowable: a shadow version that does not exist, so the shadow fails (never the caller).
  await models.put(
    routingKey('unshadowable'),
    JSON.stringify(routing('unshadowable', { shadow: { startedAt: at, version: 42, sample: 100 } })),
  );
  await models.put(routingKey('garbled'), 'not a routing document');

  const sink: CaptureSink = {
    write(model) {
      if (model === 'garbled') throw new Error('sink down');
    },
  };
  const capture = { enabled: true, sampleRate: 1, retentionDays: 30 };
  const app = buildInferenceApp(
    loadConfig({
      ...process.env,
      AWS_ENDPOINT_URL: s3.server.endpoint,
      DATA_BUCKET: 'data',
      CAPTURE_SETTINGS: JSON.stringify({ iris: capture, garbled: capture }),
    }),
    { captureSink: sink, metricListener: noting(METRICS_SERVICES.inference) },
  );
  const status = async (event: APIGatewayProxyEventV2) => {
    const result = await app.handle(event);
    // The shadow scores after the answer, as the Lambda handler's hold waits for it.
    await app.settled();
    return { status: result.statusCode, json: JSON.parse(result.body ?? 'null') as { inferenceId?: string } };
  };
  const good = await status(post('/models/iris/predict', { features: SETOSA }));
  expect(good.status).toBe(200);
  expect((await status(post('/models/iris/predict', { features: VIRGINICA }))).status).toBe(502);
  expect((await status(post('/models/iris/predict', { features: { ...SETOSA, petal_width: 'wide' } }))).status).toBe(
    400,
  );
  expect((await status(post('/models/unshadowable/predict', { features: SETOSA }))).status).toBe(200);
  expect((await status(post('/models/garbled/predict', { features: SETOSA }))).status).toBe(200);
  expect(
    (await status(post('/models/iris/feedback', { inferenceId: good.json.inferenceId, label: 'Iris-setosa' }))).status,
  ).toBe(200);

  // S3 unreachable at cold start: the bundled copy answers.
  const bundled = join(scratch, 'bundled');
  mkdirSync(join(bundled, 'iris'), { recursive: true });
  writeFileSync(join(bundled, 'iris', 'model.onnx'), lr.onnx);
  writeFileSync(join(bundled, 'iris', 'manifest.json'), JSON.stringify({ ...lr.manifest, version: 7 }));
  const down = buildInferenceApp(
    loadConfig({
      ...process.env,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await closedPort()}`,
      BUNDLED_MODELS_DIR: bundled,
    }),
    { metricListener: noting(METRICS_SERVICES.inference) },
  );
  expect((await down.handle(post('/models/iris/predict', { features: SETOSA }))).statusCode).toBe(200);
}, 60_000);

test('pipeline: a first run, a run scored against the champion, a quarantined file and a failed run', async () => {
  const base = SPECS.find((s) => s.name === 'iris') as ModelSpec;
  const specs = new Map<string, ModelSpec>();
  const use = (algorithms: ModelSpec['training']['algorithms']) =>
    specs.set('iris', { ...base, training: { ...base.training, algorithms } });
  const steps = createStepRunner({
    dataStore: s3.store('data'),
    modelStore: s3.store('models'),
    registry: new ModelRegistry(s3.store('models'), new OnnxModelValidator()),
    specs,
    clock: () => new Date(),
    tmpDir: scratch,
    dataBucket: 'data',
    recorder: memoryRecorder(noting(METRICS_SERVICES.pipeline)),
  });
  const { definition, functionArn } = synthesisedPipeline([base]);
  const executions = new LocalExecutions(definition, {
    taskHandlers: {
      [functionArn]: (payload) => steps(payload as unknown as StepRequest),
      ...NO_MANAGED_TRAINING,
      [SNS_PUBLISH]: async () => ({ MessageId: '1' }),
    },
  });
  const run = async (file: string, body?: string) => {
    const key = `incoming/iris/${file}`;
    const etag = body === undefined ? '"never-uploaded"' : (await s3.store('data').put(key, body)).etag;
    const started = executions.start(
      { trigger: 'upload', bucket: 'data', key, etag },
      executionNameFor({ bucket: 'data', key, etag }),
    );
    if (!started.started) throw new Error(`execution ${started.name} was not started`);
    return (await started.result).status;
  };
  use(['lr']);
  expect(await run('first.csv', IRIS_CSV)).toBe('SUCCEEDED');
  use(['nb']);
  const [header, ...rows] = IRIS_CSV.trim().split('\n');
  expect(await run('second.csv', [header, ...rows.reverse()].join('\n') + '\n')).toBe('SUCCEEDED');
  expect(await run('broken.csv', 'a,b\n1,2\n')).toBe('SUCCEEDED');
  expect(await run('missing.csv')).toBe('FAILED');
}, 60_000);

test('monitoring: drift over captured traffic, live accuracy from feedback', async () => {
  const store = s3.store('data');
  const now = new Date('2026-03-02T01:00:00.000Z');
  const at = new Date(now.getTime() - 2 * 3600_000);
  const records = captureRecords('iris', 250, { time: at, random: seeded(71), shift: 2, version: 3 });
  await putCapture(store, 'iris', records, new Date(at.getTime() + 60_000));
  await putFeedback(
    store,
    'iris',
    records.slice(0, 50).map((r) => ({ inferenceId: r.inferenceId, label: r.label })),
    new Date(now.getTime() - 3600_000),
  );
  const iris = SPECS.find((s) => s.name === 'iris') as ModelSpec;
  const run = createMonitoringRunner({
    dataStore: store,
    models: championSource(3, trainingBaseline()),
    specs: new Map([['iris', { ...iris, monitoring: { minRecords: 100 } }]]),
    retrain: recordingStarter(),
    clock: () => now,
    recorder: memoryRecorder(noting(METRICS_SERVICES.monitoring)),
  });
  expect((await run({ model: 'iris' })).report.judged).toBe(true);
});

test('every custom metric the dashboard draws, SEARCH expressions included, was emitted with the drawn service and dimension names', () => {
  const drawn = drawnMetrics(platform().template).filter((m) => m.namespace === METRICS_NAMESPACE);
  expect(drawn.length).toBeGreaterThan(0);
  const missing = [
    ...new Set(drawn.map((m) => signature(m.name, m.dimensions.service, Object.keys(m.dimensions)))),
  ].filter((s) => !emitted.has(s));
  expect({ drawnButNeverEmitted: missing.sort() }).toEqual({ drawnButNeverEmitted: [] });
});
