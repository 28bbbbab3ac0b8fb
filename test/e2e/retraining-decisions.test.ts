import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ModelManifest } from '../../core/manifest';
import type { RunSummary } from '../../core/pipeline/contract';
import { listRuns, type RunRecord } from '../../core/pipeline/runs';
import { S3ObjectStore } from '../../core/s3-object-store';
import { readEndpoints, type PlatformEndpoints } from '../../local/endpoints';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { progressReporter } from '../../local/progress';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { loadTable } from '../../core/data/load';
import { PROCESSED_LOAD_OPTIONS } from '../../core/pipeline/data-contract';
import { rowDigests, splitPart, type SplitRecord } from '../../training/split';
import { Rng } from '../../training/rng';

/**
 * The retraining gate's decisions through `npm start`'s platform (real S3 server, the synthesised
 * state machine, real training and onnxruntime), driven by uploads as a user makes them:
 * 1. the seeded iris content again under a new name: no new data, no version, nothing quarantined;
 * 2. new rows from a shifted distribution the champion has never seen: the retrained model is
 *    clearly better on the shared holdout and is promoted;
 * 3. new rows of the (original) distribution: the candidate does not beat the champion by the
 *    margin, the champion keeps serving, and the rows the decision compared on are disjoint from
 *    every row either model trained on, computed from the recorded split and data files.
 */

const REPO = join(__dirname, '../..');
const IRIS = readFileSync(join(REPO, 'training/datasets/iris.csv'), 'utf8');
const IRIS_ROWS = IRIS.split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => l.split(','));

jest.setTimeout(300_000);

/** Iris-like rows: each a bundled row plus noise; `shift` moves petals and sepal width (a new regime). */
function irisLike(count: number, seed: number, shift: { petal: number; sepalWidth: number }): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const [sl, sw, pl, pw, label] = IRIS_ROWS[rng.int(IRIS_ROWS.length)];
    const noise = () => (rng.next() - 0.5) * 0.2;
    const value = (base: string, add: number) => (Number(base) + add + noise()).toFixed(3);
    lines.push(
      [value(sl, 0), value(sw, shift.sepalWidth), value(pl, shift.petal), value(pw, shift.petal / 2), label].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('retraining decisions through the local platform', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let endpoints: PlatformEndpoints;
  let s3: S3Client;
  let modelStore: S3ObjectStore;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'retraining-decisions-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    // The bundled iris spec with a 2-point margin: a candidate trained on more rows of the same
    // distribution must not win by noise, while one that learnt a new regime wins by far more.
    const spec = JSON.parse(readFileSync(join(REPO, 'config/models/iris.json'), 'utf8')) as {
      training: { algorithms: string[] };
      gate: { margin: number };
    };
    spec.training.algorithms = ['lr', 'rf', 'nb'];
    spec.gate.margin = 0.02;
    writeFileSync(join(specsDir, 'iris.json'), JSON.stringify(spec));
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
    modelStore = new S3ObjectStore(s3, endpoints.modelBucket);
    await platform.seeded;
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const keys = async (bucket: string, prefix: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
      (o) => o.Key as string,
    );
  const text = async (bucket: string, key: string) =>
    (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ?? '';
  const champion = async () => {
    const response = await fetch(`${endpoints.apiUrl}/models/iris`);
    return ((await response.json()) as { champion: { version: number } | null }).champion?.version;
  };
  const versions = async () =>
    (await keys(endpoints.modelBucket, 'registry/iris/versions/')).filter((k) => k.endsWith('/manifest.json')).length;

  /** Uploads a file under incoming/iris/ and returns the run record it produced. */
  async function uploadAndRun(file: string, body: string): Promise<RunRecord> {
    const before = new Set((await listRuns(modelStore, 'iris')).map((r) => r.runId));
    await s3.send(new PutObjectCommand({ Bucket: endpoints.dataBucket, Key: `incoming/iris/${file}`, Body: body }));
    for (let i = 0; i < 400; i++) {
      await platform.pipeline.idle();
      const fresh = (await listRuns(modelStore, 'iris')).filter(
        (r) => !before.has(r.runId) && r.status !== 'incomplete',
      );
      if (fresh.length > 0) return fresh[0];
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`no run record for ${file}; platform output:\n${lines.join('\n')}`);
  }

  /** Every alias move of iris, oldest first, as the registry CLI reads them. */
  async function registryHistory(): Promise<{ alias: string; version: number; previousVersion?: number }[]> {
    const moves = (await keys(endpoints.modelBucket, 'registry/iris/history/')).sort();
    return Promise.all(
      moves.map(
        async (key) =>
          JSON.parse(await text(endpoints.modelBucket, key)) as {
            alias: string;
            version: number;
            previousVersion?: number;
          },
      ),
    );
  }

  const finished = (run: RunRecord): RunSummary => {
    if (run.status !== 'finished') throw new Error(`expected a finished run, got ${JSON.stringify(run)}`);
    return run.summary;
  };

  /** The digests of the rows a registered version trained on (train + validation), from its manifest's data files and split. */
  async function trainedRows(version: number): Promise<Set<string>> {
    const manifest = JSON.parse(
      await text(endpoints.modelBucket, `registry/iris/versions/${version}/manifest.json`),
    ) as ModelManifest;
    const split = manifest.split as unknown as SplitRecord;
    expect(split.scheme).toBe('row-content-sha256/v1');
    const rows = new Set<string>();
    for (const ref of manifest.trainingData) {
      const key = ref.uri.replace(`s3://${endpoints.dataBucket}/`, '');
      const path = join(dataDir, `check-${version}-${rows.size}.csv`);
      writeFileSync(path, await text(endpoints.dataBucket, key));
      const table = loadTable([path], PROCESSED_LOAD_OPTIONS);
      for (const digest of rowDigests(table.columns, table.rows, split))
        if (splitPart(digest, split.seed, split.fractions) !== 'holdout') rows.add(digest);
    }
    return rows;
  }

  test('the seeded content under a new name ends as no new data: no version, nothing quarantined', async () => {
    expect(await champion()).toBe(1);
    const run = await uploadAndRun('iris-copy.csv', IRIS);
    expect(run.status).toBe('no-new-data');
    if (run.status !== 'no-new-data') return;
    expect(run.record).toMatchObject({ upload: 'incoming/iris/iris-copy.csv', rowsIn: 150, duplicateRows: 150 });
    expect(await versions()).toBe(1);
    expect(await keys(endpoints.dataBucket, 'quarantine/')).toEqual([]);
    expect(await keys(endpoints.dataBucket, 'incoming/')).toEqual([]);
    expect(lines.join('\n')).toMatch(/iris\s+no new data: all 150 clean row\(s\) are already in processed\//);
    expect(lines.join('\n')).toMatch(/iris\s+> NoNewData/);
  });

  test('rows from a shifted distribution: the retrained model wins on the shared holdout and is promoted', async () => {
    const summary = finished(await uploadAndRun('new-regime.csv', irisLike(300, 11, { petal: 2.5, sepalWidth: 2 })));
    expect(summary.comparison).toMatchObject({ basis: 'shared-split' });
    expect(summary.comparison.rows).toBeGreaterThan(60);
    expect(summary.registration).toMatchObject({ version: 2, alias: 'champion', promoted: true });
    expect(summary.candidate.macroF1 - (summary.champion?.holdout.macroF1 ?? 1)).toBeGreaterThan(0.1);
    expect(await champion()).toBe(2);
    expect(summary.data.files).toHaveLength(2);
  });

  test('rows of the original distribution: the champion keeps serving, judged on rows neither model trained on', async () => {
    const summary = finished(
      await uploadAndRun('more-of-the-same.csv', irisLike(150, 23, { petal: 0, sepalWidth: 0 })),
    );
    expect(summary.registration).toMatchObject({ version: 3, alias: 'challenger', promoted: false });
    expect(summary.decision.reason).toMatch(/does not beat champion v2/);
    expect(await champion()).toBe(2);
    const served = await fetch(`${endpoints.apiUrl}/models/iris/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 } }),
    });
    expect(((await served.json()) as { version: number }).version).toBe(2);

    // The compared rows, as the run recorded them, against the rows each model's recorded split trained on.
    const compared = (await text(endpoints.modelBucket, summary.comparison.rowsKey as string)).trim().split('\n');
    expect(compared).toHaveLength(summary.comparison.rows);
    expect(compared.length).toBeGreaterThan(80);
    for (const version of [2, 3]) {
      const trained = await trainedRows(version);
      expect(trained.size).toBeGreaterThan(300);
      expect(compared.filter((digest) => trained.has(digest))).toEqual([]);
    }
  });

  test('eight distinct uploads at once: every run finishes, and each promotion replaced the champion it was compared with', async () => {
    const before = new Set((await listRuns(modelStore, 'iris')).map((r) => r.runId));
    const versionsBefore = await versions();
    // Each file: rows of a third regime the champion has not seen, so most candidates pass the gate against it.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        s3.send(
          new PutObjectCommand({
            Bucket: endpoints.dataBucket,
            Key: `incoming/iris/burst-${i}.csv`,
            Body: irisLike(60, 100 + i, { petal: -1, sepalWidth: -2 }),
          }),
        ),
      ),
    );
    let runs: RunRecord[] = [];
    for (let i = 0; i < 600 && runs.length < 8; i++) {
      await platform.pipeline.idle();
      runs = (await listRuns(modelStore, 'iris')).filter((r) => !before.has(r.runId) && r.status !== 'incomplete');
      if (runs.length < 8) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(runs.map((r) => r.status)).toEqual(Array(8).fill('finished'));
    const summaries = runs.map(finished);
    expect(await versions()).toBe(versionsBefore + 8);
    expect(await keys(endpoints.dataBucket, 'incoming/')).toEqual([]);

    // The champion's moves made by these runs, in order: each from the version its run compared with.
    const history = JSON.parse(await text(endpoints.modelBucket, 'registry/iris/aliases/champion.json')) as {
      version: number;
    };
    const promotions = summaries.filter((s) => s.registration.promoted);
    expect(promotions.length).toBeGreaterThan(0);
    const moves = await registryHistory();
    for (const summary of promotions) {
      const move = moves.find((m) => m.version === summary.registration.version && m.alias === 'champion');
      expect(move?.previousVersion).toBe(summary.comparedWith);
    }
    // Runs that passed the gate against a champion that had moved meanwhile say so and stayed challengers.
    for (const summary of summaries.filter((s) => !s.registration.promoted && s.registration.note)) {
      expect(summary.registration.note).toMatch(/the champion moved from v\d+ to v\d+ while this run was evaluated/);
    }
    expect(promotions.map((s) => s.registration.version)).toContain(history.version);
    expect(lines.filter((l) => /now serving/.test(l)).length).toBe(2 + promotions.length); // v1 (seed), v2 (new regime), then these
  });
});
