import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readEndpoints, type PlatformEndpoints } from '../../local/endpoints';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { progressReporter } from '../../local/progress';
import { runRetrainCli } from '../../core/pipeline/retrain-cli';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { ai4iMoreReadings } from '../helpers/more-readings';

/**
 * `npm start`'s platform on free ports, driven only over real HTTP and the real AWS SDK: the
 * seeded models serve, an upload under incoming/ retrains through the synthesised state machine
 * and the new champion serves without a restart, a malformed upload is quarantined with its
 * report while the champion keeps serving, and a restart resumes with the models it had.
 * ai4i2020 is first trained with naive Bayes only (its spec's floor lowered so that one is
 * promoted), then the spec is changed to gradient boosting, which beats it clearly on macro F1, so
 * the promotion is a real gate decision. Specs ship with the function, so a spec change is a
 * redeploy: here, a restart.
 */

const REPO = join(__dirname, '../..');
const IRIS_ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const AI4I_ROW = {
  Type: 'L',
  'Air temperature [K]': 298.1,
  'Process temperature [K]': 308.6,
  'Rotational speed [rpm]': 1551,
  'Torque [Nm]': 42.8,
  'Tool wear [min]': 0,
};

jest.setTimeout(240_000);

describe('the local platform: npm start, used over HTTP and the AWS SDK', () => {
  let dataDir: string;
  let specsDir: string;
  let platform: LocalPlatform;
  let endpoints: PlatformEndpoints;
  let s3: S3Client;
  const lines: string[] = [];

  /** The ai4i2020 spec the pipeline function loads when it starts (MODEL_SPECS_DIR). */
  function ai4iAlgorithms(algorithms: string[]): void {
    const spec = JSON.parse(readFileSync(join(REPO, 'config/models/ai4i2020.json'), 'utf8')) as {
      training: { algorithms: string[] };
      gate: { floor: number };
    };
    spec.training.algorithms = algorithms;
    spec.gate.floor = 0.5;
    writeFileSync(join(specsDir, 'ai4i2020.json'), JSON.stringify(spec));
  }

  /** Starts the platform on free ports and connects to it the way scripts do: through endpoints.json. */
  async function start(): Promise<void> {
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      log: (line) => lines.push(line),
      onPipelineEvent: progressReporter((line) => lines.push(line)),
    });
    endpoints = readEndpoints(dataDir);
    s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: endpoints.region,
      forcePathStyle: true,
      credentials: LOCAL_S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }

  async function api(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(
      `${endpoints.apiUrl}${path}`,
      body === undefined
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    );
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; platform output:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const keys = async (prefix: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: endpoints.dataBucket, Prefix: prefix }))).Contents ?? []).map(
      (o) => o.Key,
    );
  const champion = async (model: string) =>
    ((await api(`/models/${model}`)).json.champion as { version: number } | null)?.version;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'local-platform-'));
    specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    copyFileSync(join(REPO, 'config/models/iris.json'), join(specsDir, 'iris.json'));
    ai4iAlgorithms(['nb']);
    await start();
    await platform.seeded;
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('writes endpoints.json once ready and answers GET /health', async () => {
    expect(endpoints).toEqual({
      apiUrl: platform.endpoints.apiUrl,
      s3Endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      region: 'us-east-1',
      dataBucket: 'mlops-data',
      modelBucket: 'mlops-models',
    });
    expect((await api('/health')).status).toBe(200);
  });

  test('first start trains and promotes a model per spec from the bundled data, and /predict answers', async () => {
    expect(await champion('iris')).toBe(1);
    expect(await champion('ai4i2020')).toBe(1);
    const iris = await api('/models/iris/predict', { features: IRIS_ROW });
    expect(iris.status).toBe(200);
    expect(iris.json).toMatchObject({ model: 'iris', version: 1, predictions: [{ label: 'Iris-setosa' }] });
    // POST /predict picks the model whose features the request names.
    expect((await api('/predict', { features: AI4I_ROW })).json).toMatchObject({ model: 'ai4i2020', version: 1 });
    expect(lines.join('\n')).toMatch(/registered v1 as champion/);
  });

  test('a second start resumes with the models it had, without seeding again', async () => {
    await platform.close();
    lines.length = 0;
    ai4iAlgorithms(['gbdt']);
    await start();
    await platform.seeded;
    expect(lines.join('\n')).not.toMatch(/started upload/);
    expect((await api('/models/iris/predict', { features: IRIS_ROW })).json).toMatchObject({ version: 1 });
    expect((await api('/predict', { features: AI4I_ROW })).json).toMatchObject({ version: 1 });
  });
  test('an upload under incoming/ retrains, and the new champion serves without a restart', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: endpoints.dataBucket,
        Key: 'incoming/ai4i2020/more-readings.csv',
        Body: ai4iMoreReadings(1),
      }),
    );
    await eventually('version 2 to serve', async () => {
      const answer = await api('/predict', { features: AI4I_ROW });
      return answer.json.version === 2 ? answer : undefined;
    });
    expect(await champion('ai4i2020')).toBe(2);
    expect(await keys('incoming/')).toEqual([]);
    expect(lines.join('\n')).toMatch(/ai4i2020\s+gate: PROMOTE/);
  });

  test('a malformed upload ends in quarantine/ with its report, and the champion keeps serving', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: endpoints.dataBucket,
        Key: 'incoming/ai4i2020/broken.csv',
        Body: 'UDI,Type\n1,L\n2,M\n',
      }),
    );
    const report = 'quarantine/ai4i2020/broken.csv.report.json';
    await eventually('the quarantine report', async () =>
      (await keys('quarantine/ai4i2020/')).includes(report) ? true : undefined,
    );
    expect(await keys('quarantine/ai4i2020/')).toEqual(expect.arrayContaining(['quarantine/ai4i2020/broken.csv']));
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: endpoints.dataBucket, Key: report }))
    ).Body?.transformToString();
    expect(JSON.parse(body ?? '{}')).toMatchObject({
      problems: expect.arrayContaining([expect.objectContaining({ kind: expect.any(String) })]),
    });
    await platform.pipeline.idle();
    expect(await champion('ai4i2020')).toBe(2);
    expect((await api('/predict', { features: AI4I_ROW })).json.version).toBe(2);
  });

  test('GET /dashboard/data shows the requests, predictions and pipeline runs the functions reported', async () => {
    const data = (await api('/dashboard/data')).json as {
      totals: { requests: number; predictions: number; runs: Record<string, number>; quarantinedFiles: number };
      panels: { id: string; series: { name: string }[] }[];
    };
    expect(data.totals.requests).toBeGreaterThan(0);
    expect(data.totals.predictions).toBeGreaterThan(0);
    // The pipeline's metrics come from its function's EMF log lines, as CloudWatch reads them. They
    // outlive the restart above (the data folder's metrics.json): the two seeding runs, then the retrain.
    expect(data.totals.runs).toMatchObject({ promoted: 3 });
    expect(data.totals.quarantinedFiles).toBe(1);
    const versions = data.panels.find((p) => p.id === 'model-version')?.series.map((s) => s.name);
    expect(versions).toEqual(expect.arrayContaining(['ai4i2020']));
    const page = await fetch(`${endpoints.apiUrl}/dashboard`);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/);
  });

  test('npm run retrain finds the running platform through its data folder and follows the run to its end', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    // No STATE_MACHINE_ARN and no API_URL: the endpoints.json npm start wrote in LOCAL_DATA_DIR.
    expect(await runRetrainCli(['ai4i2020', '--wait'], { LOCAL_DATA_DIR: dataDir }, io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toMatch(new RegExp(`^started manual-ai4i2020-\\d+ on the local platform at ${endpoints.apiUrl}$`));
    expect(out[1]).toBe('SUCCEEDED');
    // The run is the pipeline's own: its record is in the model bucket's run list.
    const execution = /started (\S+)/.exec(out[0])?.[1];
    expect(lines.join('\n')).toContain(execution);
  });
});
