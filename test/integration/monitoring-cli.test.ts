import { type AddressInfo, createServer } from 'node:net';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  FEEDBACK_PREFIX,
  type FeedbackRecord,
  type MonitoringReport,
  monitoringReportKey,
} from '../../core/monitoring/contract';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { buildInferenceApp } from '../../lambdas/inference/build-app';
import { loadConfig } from '../../lambdas/inference/config';
import { MonitoringRequestError } from '../../lambdas/monitoring/deps';
import { createMonitoringRunner } from '../../lambdas/monitoring/runner';
import { LocalCaptureDelivery } from '../../local/capture-delivery';
import { type HttpApi, startHttpApi } from '../../local/http-api';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';
import { registryCli, registryCliEnv } from '../helpers/registry-cli';
import { tempFiles } from '../helpers/temp-files';

/**
 * `npm run registry -- drift` and `feedback`, in process, against a real local S3 server and the
 * real inference app behind the local HTTP API (local/http-api.ts), with a POST local route that
 * runs the monitoring job as the local platform does. Only the Lambda SDK client is mocked.
 */

setQuietHandlerEnv('models');

const lambda = mockClient(LambdaClient);
const files = tempFiles();
let s3: TestS3;
let api: HttpApi;
let capture: LocalCaptureDelivery;
let env: NodeJS.ProcessEnv;

const cli = (extra: NodeJS.ProcessEnv, ...argv: string[]) => registryCli({ ...env, ...extra }, argv);

const ROWS = [
  { features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }, label: 'Iris-setosa' },
  { features: { sepal_length: 7.0, sepal_width: 3.2, petal_length: 4.7, petal_width: 1.4 }, label: 'Iris-versicolor' },
  { features: { sepal_length: 6.3, sepal_width: 3.3, petal_length: 6.0, petal_width: 2.5 }, label: 'Iris-virginica' },
  { features: { sepal_length: 4.9, sepal_width: 3.0, petal_length: 1.4, petal_width: 0.2 }, label: 'Iris-setosa' },
  { features: { sepal_length: 6.4, sepal_width: 3.2, petal_length: 4.5, petal_width: 1.5 }, label: 'Iris-versicolor' },
  { features: { sepal_length: 5.8, sepal_width: 2.7, petal_length: 5.1, petal_width: 1.9 }, label: 'Iris-virginica' },
];

/** A judged report with drift in one feature, every kind of feature and live accuracy for two versions. */
function richReport(generatedAt: Date, model = 'iris'): MonitoringReport {
  return {
    model,
    generatedAt: generatedAt.toISOString(),
    window: { from: new Date(generatedAt.getTime() - 24 * 3600_000).toISOString(), to: generatedAt.toISOString() },
    records: 500,
    recordsByVersion: { '3': 450, '4': 50 },
    baselineVersion: 3,
    minRecords: 200,
    judged: true,
    threshold: 0.25,
    features: [
      {
        feature: 'petal_length',
        type: 'numeric',
        test: 'psi',
        score: 1.84213,
        threshold: 0.25,
        verdict: 'drift',
        missingShare: 0,
        outOfRangeShare: 0.312,
      },
      {
        feature: 'sepal_width',
        type: 'numeric',
        test: 'psi',
        score: 0.0123,
        threshold: 0.25,
        verdict: 'stable',
        missingShare: 0.02,
        outOfRangeShare: 0,
      },
      {
        feature: 'colour',
        type: 'categorical',
        test: 'psi',
        score: 0.1502,
        threshold: 0.25,
        verdict: 'moderate',
        missingShare: 0,
        unseenShare: 0.03,
        chiSquare: { statistic: 41.23, degreesOfFreedom: 2, pValue: 1.1e-9 },
      },
      {
        feature: 'note',
        type: 'text',
        test: 'psi',
        score: 0.0456,
        threshold: 0.25,
        verdict: 'stable',
        missingShare: 0,
      },
    ],
    predictions: {
      test: 'psi',
      score: 0.0312,
      verdict: 'stable',
      live: { a: 150, b: 150, c: 150 },
      baseline: { a: 100, b: 100, c: 100 },
    },
    feedback: { received: 210, matched: 200, unmatched: 10 },
    liveAccuracy: [
      { version: 3, labelled: 180, accuracy: 0.95, macroF1: 0.9489 },
      { version: 4, labelled: 20, accuracy: 0.9, macroF1: null },
    ],
    drifted: ['petal_length'],
    retrain: { started: true, execution: 'iris-drift-20261130T190405Z', reason: 'started: drift in petal_length' },
  };
}

const invoked = (report: unknown): InvokeCommandOutput => ({
  $metadata: {},
  StatusCode: 200,
  Payload: new TextEncoder().encode(JSON.stringify(report)) as InvokeCommandOutput['Payload'],
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  s3 = await startTestS3(['models', 'data']);
  const registry = new ModelRegistry(s3.store('models'), new OnnxModelValidator());
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: ['lr'] });
  const model = exportModel(run, run.best, 'iris', table.sources);
  const { version } = await registry.register('iris', model.onnx, model.manifest, { actor: 'test' });
  await registry.promote('iris', version, { actor: 'test', reason: 'monitoring CLI test' });

  const dataStore = s3.store('data');
  capture = new LocalCaptureDelivery({ store: dataStore });
  const config = loadConfig({
    ...process.env,
    AWS_ENDPOINT_URL: s3.server.endpoint,
    DATA_BUCKET: 'data',
    CAPTURE_SETTINGS: JSON.stringify({ iris: { enabled: true, sampleRate: 1, retentionDays: 30 } }),
  });
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const app = buildInferenceApp(config, { captureSink: capture, log: silent });
  const specs = loadModelSpecs(`${__dirname}/../../config/models`);
  const runJob = createMonitoringRunner({
    dataStore,
    models: registry,
    specs: new Map(specs.map((s) => [s.name, s])),
    retrain: { start: async () => ({ started: false }) },
    clock: () => new Date(),
  });
  api = await startHttpApi({
    port: 0,
    handler: (event) => app.handle(event),
    localRoutes: {
      // What the local platform answers for `drift --now`: the job's report, 404 for an unknown model.
      'POST /_local/monitoring/{model}': async ({ params }) => {
        await capture.flush();
        try {
          const { report, reportKey } = await runJob({ model: params.model, source: 'cli' });
          return {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ...report, reportKey }),
          };
        } catch (error) {
          if (!(error instanceof MonitoringRequestError)) throw error;
          return {
            status: 404,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: { code: 'unknown_model', message: error.message } }),
          };
        }
      },
    },
  });
  env = { ...registryCliEnv(s3, 'models'), DATA_BUCKET: 'data' };
});

afterAll(async () => {
  lambda.restore();
  await api.close();
  await capture.close();
  await s3.close();
  files.cleanup();
});

beforeEach(() => lambda.reset());

describe('registry CLI: drift', () => {
  it('prints the latest report under monitoring/<model>/ as a table, and as JSON with --json', async () => {
    const older = richReport(new Date('2026-01-01T10:00:00Z'), 'shown');
    const newer = richReport(new Date('2026-01-02T10:00:00Z'), 'shown');
    await s3
      .store('data')
      .put(monitoringReportKey('shown', new Date('2026-01-01T10:00:00Z')), JSON.stringify({ ...older, records: 1 }));
    await s3.store('data').put(monitoringReportKey('shown', new Date('2026-01-02T10:00:00Z')), JSON.stringify(newer));

    const { code, out } = await cli({}, 'drift', 'shown');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toBe('shown: latest monitoring report s3://data/monitoring/shown/20260102T100000000Z.json');
    expect(lines.slice(2, 8)).toEqual([
      'feature       type         test  score   threshold  verdict   out of range / unseen                    missing',
      '------------  -----------  ----  ------  ---------  --------  ---------------------------------------  -------',
      'petal_length  numeric      psi   1.8421  0.25       drift     31.2% out of range                       0.0%',
      'sepal_width   numeric      psi   0.0123  0.25       stable    0.0% out of range                        2.0%',
      'colour        categorical  psi   0.1502  0.25       moderate  3.0% unseen; chi² 41.2 (df 2, p 1.1e-9)  0.0%',
      'note          text         psi   0.0456  0.25       stable    -                                        0.0%',
    ]);
    expect(out).toContain(
      "prediction drift (champion v3's predicted labels vs its holdout's): psi 0.0312, threshold 0.25, stable\n  live: a 33.3%, b 33.3%, c 33.3%\n  holdout: a 33.3%, b 33.3%, c 33.3%",
    );
    expect(out).toContain(
      [
        'version  labelled  accuracy  macro F1',
        '-------  --------  --------  --------',
        'v3       180       0.9500    0.9489',
        'v4       20        0.9000    -',
      ].join('\n'),
    );
    expect(out).toContain('feedback: 210 labels read, 200 matched a captured record of the window, 10 unmatched');
    expect(out).toContain(
      "records: 500 captured in the window (v3: 450, v4: 50); judged against champion v3's training baseline (at least 200 needed)",
    );
    expect(out).toContain(
      'window: 2026-01-01T10:00:00.000Z to 2026-01-02T10:00:00.000Z (report generated 2026-01-02T10:00:00.000Z)',
    );
    expect(out).toContain('retrain: started: drift in petal_length (execution iris-drift-20261130T190405Z)');

    // A report from today is found by the day's listing.
    const now = new Date();
    await s3.store('data').put(monitoringReportKey('shown', now), JSON.stringify({ ...newer, records: 7 }));
    const json = await cli({}, 'drift', 'shown', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({
      model: 'shown',
      records: 7,
      reportKey: monitoringReportKey('shown', now),
    });
  });

  it('says when the job runs and how to run it now when there is no report yet (exit 1); an unknown model exits 2', async () => {
    const none = await cli({}, 'drift', 'smoke');
    expect(none.code).toBe(1);
    expect(none.out).toBe('');
    expect(none.err).toMatch(
      /^no monitoring report for smoke yet \(nothing under s3:\/\/data\/monitoring\/smoke\/\)\./,
    );
    expect(none.err).toContain(
      'The monitoring job runs on its schedule, rate(1 hour) (monitoring.schedule in its spec)',
    );
    expect(none.err).toContain('To run it now: npm run registry -- drift smoke --now');
    expect(none.err).toMatch(/MONITORING_FUNCTION=.* or API_URL=/);

    expect(await cli({}, 'drift', 'nosuch')).toMatchObject({
      code: 2,
      err: expect.stringMatching(
        /^unknown model "nosuch": no report under s3:\/\/data\/monitoring\/nosuch\/ and no model spec \(known models: .*iris.*\)$/,
      ),
    });
  });

  it('fails with a usage error naming what to set when DATA_BUCKET, or where to run --now, is missing', async () => {
    expect(await cli({ DATA_BUCKET: undefined }, 'drift', 'iris')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^DATA_BUCKET is not set: export DATA_BUCKET=/),
    });
    const now = await cli({ DATA_BUCKET: undefined, MODEL_BUCKET: undefined }, 'drift', 'iris', '--now');
    expect(now).toMatchObject({
      code: 2,
      err: expect.stringMatching(
        /^drift --now needs where the monitoring job runs: MONITORING_FUNCTION=.*, or API_URL=/,
      ),
    });
    expect(await cli({}, 'drift', 'iris', '--api-url', 'http://x')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^--api-url goes with drift --now/),
    });
    expect(await cli({}, 'drift', 'iris', '--weight', '5')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^--weight is not an option of drift/),
    });
    expect(await cli({}, 'list', '--now')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^--now is an option of drift, not of list/),
    });
  });

  it('--now with API_URL runs the job on the local platform and prints the report it returns', async () => {
    for (const row of ROWS) {
      const answer = await fetch(`${api.url}/models/iris/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: row.features }),
      });
      expect(answer.status).toBe(200);
    }
    const { code, out, err } = await cli({ API_URL: api.url }, 'drift', 'iris', '--now');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(
      new RegExp(
        `^ran the monitoring job for iris now \\(local platform ${api.url}\\)\n\nfeature\\s+type\\s+test\\s+score`,
      ),
    );
    // Six records: the scores are computed, the verdicts wait for the 200 the spec asks for.
    expect(out).toMatch(
      /^petal_length\s+numeric\s+psi\s+\d+\.\d{4}\s+0\.25\s+not-judged\s+0\.0% out of range\s+0\.0%$/m,
    );
    expect(out).toMatch(/^records: 6 captured in the window \(v1: 6\); not judged: fewer than the 200 needed$/m);
    expect(out).toMatch(/^retrain: not judged: /m);
    const key = /^stored as: (monitoring\/iris\/\d{8}T\d{9}Z\.json)$/m.exec(out)?.[1];
    expect(key).toBeDefined();
    // The stored report is what `drift` (without --now) shows next.
    expect((await cli({}, 'drift', 'iris')).out).toContain(`s3://data/${key}`);

    expect(await cli({}, 'drift', 'nosuch', '--now', '--api-url', api.url)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^the local platform did not run the job: 404: no model spec for model "nosuch"/),
    });
    const port = await closedPort();
    expect(await cli({ API_URL: `http://127.0.0.1:${port}` }, 'drift', 'iris', '--now')).toMatchObject({
      code: 1,
      err: expect.stringMatching(
        /^cannot reach the local platform at http:\/\/127\.0\.0\.1:\d+\/_local\/monitoring\/iris \(ECONNREFUSED\): is npm start running/,
      ),
    });
  });

  it('--now with MONITORING_FUNCTION invokes the function with {model, source: "cli"} and prints its report (API_URL ignored)', async () => {
    const report = {
      ...richReport(new Date('2026-02-01T00:00:00Z')),
      reportKey: 'monitoring/iris/20260201T000000000Z.json',
      read: { captureObjects: 3 },
    };
    lambda.on(InvokeCommand).resolves(invoked(report));
    const { code, out } = await cli(
      { MONITORING_FUNCTION: 'mlops-monitoring', API_URL: 'http://127.0.0.1:1' },
      'drift',
      'iris',
      '--now',
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^ran the monitoring job for iris now \(function mlops-monitoring\)\n\nfeature/);
    expect(out).toMatch(/^petal_length\s+numeric\s+psi\s+1\.8421\s+0\.25\s+drift\s+31\.2% out of range/m);
    expect(out).toContain('stored as: monitoring/iris/20260201T000000000Z.json');
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input.FunctionName).toBe('mlops-monitoring');
    expect(JSON.parse(String(calls[0].args[0].input.Payload))).toEqual({ model: 'iris', source: 'cli' });
  });

  it("--now prints the monitoring function's error and exits 1 when it fails", async () => {
    lambda.on(InvokeCommand).resolves({
      ...invoked({ errorType: 'MonitoringRequestError', errorMessage: 'no model spec for model "iris2"', trace: [] }),
      FunctionError: 'Unhandled',
    });
    expect(await cli({ MONITORING_FUNCTION: 'mlops-monitoring' }, 'drift', 'iris2', '--now')).toMatchObject({
      code: 1,
      out: '',
      err: 'the monitoring function mlops-monitoring failed (Unhandled): MonitoringRequestError: no model spec for model "iris2"',
    });

    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Function not found: mlops-monitoring'), { name: 'ResourceNotFoundException' }));
    expect(await cli({ MONITORING_FUNCTION: 'mlops-monitoring' }, 'drift', 'iris', '--now')).toMatchObject({
      code: 1,
      err: 'cannot invoke the monitoring function mlops-monitoring: ResourceNotFoundException: Function not found: mlops-monitoring',
    });
  });
});

describe('registry CLI: feedback', () => {
  async function predictIds(): Promise<string[]> {
    const answer = await fetch(`${api.url}/models/iris/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: ROWS.map((r) => r.features) }),
    });
    const body = (await answer.json()) as { predictions: { inferenceId: string }[] };
    return body.predictions.map((p) => p.inferenceId);
  }

  async function storedFeedback(): Promise<FeedbackRecord[]> {
    const store = s3.store('data');
    const keys = await store.list(`${FEEDBACK_PREFIX}iris/`);
    const objects = await Promise.all(keys.map((k) => store.get(k)));
    return objects.flatMap((o) =>
      new TextDecoder()
        .decode(o?.body)
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as FeedbackRecord),
    );
  }

  it("stores every good line, reports each bad one with its file line and the API's message, and exits 1", async () => {
    const ids = await predictIds();
    const before = (await storedFeedback()).length;
    const csv = [
      'inferenceId,label',
      `${ids[0]},${ROWS[0].label}`,
      `${ids[1]},Iris-unknown`,
      '',
      `${ids[2]},${ROWS[2].label}`,
      `${ids[3]},${ROWS[3].label},extra`,
      `${ids[4]}, ${ROWS[4].label}`,
      `0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b,${ROWS[5].label}`,
      `${ids[5]},${ROWS[5].label}`,
    ].join('\n');
    const file = files.write('labels.csv', `${csv}\n`);

    const { code, out, err } = await cli({ API_URL: api.url }, 'feedback', 'iris', file);
    expect(out).toBe('4 labels accepted, 3 refused');
    expect(code).toBe(1);
    const errors = err.split('\n');
    expect(errors).toHaveLength(3);
    expect(errors).toContain(
      `${file}:3: refused (label): label must be one of the model's classes, got "Iris-unknown"`,
    );
    expect(errors).toContain(`${file}:6: refused: expected 2 fields (inferenceId,label), got 3`);
    expect(errors.find((e) => e.startsWith(`${file}:8: refused (inferenceId): `))).toMatch(/is not an inference id/);

    const stored = (await storedFeedback()).slice(before);
    expect(stored.map((r) => [r.inferenceId, r.label]).sort()).toEqual(
      [0, 2, 4, 5].map((i) => [ids[i], ROWS[i].label]).sort(),
    );

    // The monitoring job joins them to the captured answers (the labels are the true ones; lr gets these right).
    const report = JSON.parse(
      (await cli({ API_URL: api.url }, 'drift', 'iris', '--now', '--json')).out,
    ) as MonitoringReport;
    expect(report.feedback).toEqual({ received: 4, matched: 4, unmatched: 0 });
    expect(report.liveAccuracy).toEqual([{ version: 1, labelled: 4, accuracy: 1, macroF1: expect.any(Number) }]);
  });

  it('takes --api-url, prints JSON with --json, and exits 0 when every label is accepted', async () => {
    const ids = await predictIds();
    const file = files.write(
      'all-good.csv',
      `\uFEFFinferenceId,label\r\n${ids.map((id, i) => `${id},${ROWS[i].label}`).join('\r\n')}\r\n`,
    );
    const { code, out } = await cli({ API_URL: undefined }, 'feedback', 'iris', file, '--api-url', api.url, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ model: 'iris', accepted: 6, refused: [], notSent: 0, stopped: null });
  });

  it('refuses a file without the inferenceId,label header, an unreadable file and a missing API URL (exit 2), before sending anything', async () => {
    const before = (await storedFeedback()).length;
    const wrong = files.write('wrong-header.csv', 'id,label\nabc,Iris-setosa\n');
    expect(await cli({ API_URL: api.url }, 'feedback', 'iris', wrong)).toMatchObject({
      code: 2,
      err: `${wrong}: the first line must be the header inferenceId,label, got "id,label"`,
    });
    expect(await cli({ API_URL: api.url }, 'feedback', 'iris', `${wrong}.missing`)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^cannot read .*wrong-header\.csv\.missing: ENOENT/),
    });
    expect(await cli({ API_URL: undefined }, 'feedback', 'iris', wrong)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^feedback needs the inference API: --api-url <url> or API_URL=<url>/),
    });
    expect(await cli({ API_URL: api.url }, 'feedback', 'iris')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^feedback needs <file>/),
    });
    expect((await storedFeedback()).length).toBe(before);
  });

  it('stops (exit 1) when the API refuses the whole request, counting the lines not sent', async () => {
    const file = files.write(
      'other-model.csv',
      `inferenceId,label\n${(await predictIds()).map((id) => `${id},x`).join('\n')}\n`,
    );
    const { code, out, err } = await cli({ API_URL: api.url }, 'feedback', 'nosuch', file);
    expect(code).toBe(1);
    expect(out).toBe('0 labels accepted, 0 refused, 6 not sent');
    expect(err).toMatch(/^stopped: the API refused the request: 404 unknown_model: unknown model "nosuch"$/);
  });
});
