import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MonitoringReport } from '../../core/monitoring/contract';
import { readEndpoints } from '../../local/endpoints';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { registryCli } from '../helpers/registry-cli';
import type { PipelineEvent } from '../../local/local-pipeline';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { progressReporter } from '../../local/progress';

/**
 * The production data loop through `npm start`'s platform: real HTTP requests answered by real
 * onnxruntime, their capture written to the real S3 server, feedback through the API, and the
 * monitoring job (the Lambda's runner) judging drift against the champion's training baseline.
 *
 * 1. 500 requests drawn from iris.csv (the training data): every feature's PSI under 0.1, no retrain.
 * 2. Labels for 200 of those answers: the report's live accuracy equals the accuracy this test
 *    computes from the same answers.
 * 3. 500 requests with petal_length + 2: petal_length above the threshold in the report and the
 *    FeatureDrift metric, and exactly one retraining run with trigger `drift` over three
 *    monitoring ticks inside the cool-down.
 */

jest.setTimeout(300_000);

const REPO = join(__dirname, '../..');

interface Row {
  readonly features: Record<string, number>;
  readonly label: string;
}

function irisRows(): Row[] {
  return readFileSync(join(REPO, 'training/datasets/iris.csv'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [sepal_length, sepal_width, petal_length, petal_width, label] = line.split(',');
      return {
        features: {
          sepal_length: Number(sepal_length),
          sepal_width: Number(sepal_width),
          petal_length: Number(petal_length),
          petal_width: Number(petal_width),
        },
        label,
      };
    });
}

/** mulberry32: seeded draws, so a failure reproduces. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    let t = (state = (state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Answered {
  readonly id: string;
  readonly predicted: string;
  readonly truth: string;
}

describe('capture -> feedback -> drift -> retrain, through the local platform', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let apiUrl: string;
  const lines: string[] = [];
  const events: PipelineEvent[] = [];
  const rows = irisRows();
  const random = seeded(7);

  async function predictMany(
    count: number,
    shift: (features: Record<string, number>) => Record<string, number>,
  ): Promise<Answered[]> {
    const answered: Answered[] = [];
    // Eight at a time: steady traffic, not one request per event-loop turn.
    for (let start = 0; start < count; start += 8) {
      const batch = Array.from({ length: Math.min(8, count - start) }, () => rows[Math.floor(random() * rows.length)]);
      const answers = await Promise.all(
        batch.map(async (row) => {
          const response = await fetch(`${apiUrl}/models/iris/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ features: shift(row.features) }),
          });
          const body = (await response.json()) as {
            inferenceId: string;
            predictions: { inferenceId: string; label: string }[];
          };
          if (response.status !== 200) throw new Error(`predict answered ${response.status}: ${JSON.stringify(body)}`);
          expect(response.headers.get('x-inference-id')).toBe(body.inferenceId);
          return { id: body.predictions[0].inferenceId, predicted: body.predictions[0].label, truth: row.label };
        }),
      );
      answered.push(...answers);
    }
    return answered;
  }

  type Started = Extract<PipelineEvent, { type: 'started' }>;
  const driftRuns = () => events.filter((e): e is Started => e.type === 'started' && e.input.trigger === 'drift');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'data-loop-e2e-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    // iris as shipped, trained on two algorithms so seeding and the drift run take seconds.
    const spec = JSON.parse(readFileSync(join(REPO, 'config/models/iris.json'), 'utf8')) as Record<string, unknown> & {
      training: Record<string, unknown>;
    };
    writeFileSync(
      join(specsDir, 'iris.json'),
      JSON.stringify({ ...spec, training: { ...spec.training, algorithms: ['lr', 'nb'] } }),
    );
    const log = (line: string) => lines.push(line);
    const progress = progressReporter(log);
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      modelTtlSeconds: 1,
      log,
      onPipelineEvent: (event) => {
        events.push(event);
        progress(event);
      },
    });
    apiUrl = readEndpoints(dataDir).apiUrl;
    await platform.seeded;
    if ((await platform.unserved()).length > 0) throw new Error(`iris is not serving:\n${lines.join('\n')}`);
  });

  afterAll(async () => {
    await platform?.pipeline.idle();
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let steady: Answered[];
  let steadyReport: MonitoringReport;

  test('traffic like the training data: every feature under 0.1, no retrain', async () => {
    steady = await predictMany(500, (f) => f);
    steadyReport = await platform.monitoring.run('iris');
    expect(steadyReport.records).toBe(500);
    expect(steadyReport.judged).toBe(true);
    expect(steadyReport.baselineVersion).toBe(1);
    expect(steadyReport.features.map((f) => f.feature).sort()).toEqual([
      'petal_length',
      'petal_width',
      'sepal_length',
      'sepal_width',
    ]);
    for (const feature of steadyReport.features) {
      expect({ feature: feature.feature, below: (feature.score as number) < 0.1 }).toEqual({
        feature: feature.feature,
        below: true,
      });
      expect(feature.verdict).toBe('stable');
    }
    expect(steadyReport.drifted).toEqual([]);
    expect(steadyReport.retrain.started).toBe(false);
    expect(driftRuns()).toEqual([]);
  });

  test('feedback for 200 answers: live accuracy equals the accuracy of those answers', async () => {
    const labelled = steady.slice(0, 200);
    const response = await fetch(`${apiUrl}/models/iris/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ feedback: labelled.map((a) => ({ inferenceId: a.id, label: a.truth })) }),
    });
    expect(await response.json()).toEqual({ model: 'iris', accepted: 200 });
    const report = await platform.monitoring.run('iris');
    const expected = labelled.filter((a) => a.predicted === a.truth).length / labelled.length;
    expect(report.feedback).toEqual({ received: 200, matched: 200, unmatched: 0 });
    const live = report.liveAccuracy.find((l) => l.version === 1);
    expect(live?.labelled).toBe(200);
    expect(live?.accuracy).toBeCloseTo(expected, 12);
  });

  test('petal_length + 2: drift reported, a metric, and exactly one drift retrain over three ticks', async () => {
    await predictMany(500, (f) => ({ ...f, petal_length: f.petal_length + 2 }));
    const reports: MonitoringReport[] = [];
    for (let tick = 0; tick < 3; tick++) reports.push(await platform.monitoring.run('iris'));
    const [first, ...later] = reports;
    const petal = first.features.find((f) => f.feature === 'petal_length');
    expect(petal?.score).toBeGreaterThanOrEqual(first.threshold);
    expect(petal?.verdict).toBe('drift');
    expect(first.drifted).toContain('petal_length');
    expect(first.retrain.started).toBe(true);
    for (const report of later) {
      expect(report.drifted).toContain('petal_length');
      expect(report.retrain.started).toBe(false);
      expect(report.retrain.reason).toMatch(/cool-down/);
    }
    expect(driftRuns()).toHaveLength(1);
    expect(driftRuns()[0].input).toMatchObject({
      model: 'iris',
      trigger: 'drift',
      reportKey: expect.stringMatching(/^monitoring\/iris\//),
    });
    // What a user runs: the CLI asks the local platform for a tick and prints the table.
    const endpoints = readEndpoints(dataDir);
    const cli = await registryCli(
      {
        API_URL: apiUrl,
        DATA_BUCKET: endpoints.dataBucket,
        MODEL_BUCKET: endpoints.modelBucket,
        AWS_ENDPOINT_URL: endpoints.s3Endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      },
      ['drift', 'iris', '--now'],
    );
    expect(cli.err).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/petal_length\s.*\bdrift\b/);
    expect(cli.out).toMatch(/cool-down/);
    expect(driftRuns()).toHaveLength(1);
    const drift = platform.metrics.snapshot().panels.find((p) => p.id === 'drift');
    expect(drift?.series.map((s) => s.name)).toContain('iris petal_length');
    // The drift run trains on the processed data like a scheduled run, and records what started it.
    await platform.pipeline.idle();
    expect(lines.join('\n')).not.toMatch(/failed/i);
  });
});
