import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { batchJobId, jobRecordKey, reportKey, resultsPrefix } from '../../core/batch/keys';
import type { BatchReport } from '../../core/batch/report';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import { readEndpoints, type PlatformEndpoints } from '../../local/endpoints';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { ai4iBatchCsv, ai4iFeatures } from '../helpers/batch-files';
import { writeAi4iSpec } from '../helpers/ai4i-spec';

/**
 * Batch transform through the local platform: a file put under batch/ai4i2020/ with the AWS SDK
 * is scored by the BatchTransform state machine's synthesised definition (Distributed Map run by
 * local/distributed-map.ts), and the results are checked against the HTTP API's answers.
 * Small chunks (64 KiB) so a 20,000-row file is 20+ chunks in several Map children. ai4i2020 is
 * trained with logistic regression only and its gate floor lowered, so the first start promotes one fast.
 */

const REPO = join(__dirname, '../..');
const MODEL = 'ai4i2020';
jest.setTimeout(300_000);

describe('batch transform on the local platform', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let endpoints: PlatformEndpoints;
  let s3: S3Client;
  let registry: ModelRegistry;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mlops-batch-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    writeAi4iSpec(specsDir);
    process.env.BATCH_CHUNK_BYTES = String(64 * 1024);
    await start(specsDir);
  });

  /** Starts the platform on dataDir (again, after a close: the same data, new ports). */
  async function start(specsDir: string) {
    const lines: string[] = [];
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      modelTtlSeconds: 1,
      log: (l) => lines.push(l),
    });
    await platform.seeded;
    if ((await platform.unserved()).length > 0) throw new Error(`ai4i2020 is not serving:\n${lines.join('\n')}`);
    endpoints = readEndpoints(dataDir);
    s3?.destroy();
    s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: endpoints.region,
      forcePathStyle: true,
      credentials: LOCAL_S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    registry = new ModelRegistry(new S3ObjectStore(s3, endpoints.modelBucket), new OnnxModelValidator());
  }

  afterAll(async () => {
    await platform?.batch.idle();
    await platform?.close();
    s3?.destroy();
    delete process.env.BATCH_CHUNK_BYTES;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const text = async (key: string): Promise<string | undefined> => {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: endpoints.dataBucket, Key: key }));
      return await out.Body?.transformToString('utf8');
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  };
  const keysUnder = async (prefix: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: endpoints.dataBucket, Prefix: prefix }))).Contents ?? []).map(
      (o) => o.Key as string,
    );

  /** Uploads under batch/<model>/ and returns the job's id (the same one the platform derives). */
  async function upload(key: string, body: string | Uint8Array) {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: endpoints.dataBucket,
        Key: key,
        Body: typeof body === 'string' ? body : Buffer.from(body),
      }),
    );
    const job = batchJobId({ bucket: endpoints.dataBucket, key, etag: (put.ETag ?? '').replace(/"/g, '') });
    return { job, key };
  }

  async function reportOf(model: string, job: string, whileRunning?: () => Promise<void>): Promise<BatchReport> {
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      const body = await text(reportKey(model, job));
      if (body !== undefined) return JSON.parse(body) as BatchReport;
      await whileRunning?.();
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no report for ${model}/${job}`);
  }

  async function api(body: unknown) {
    const response = await fetch(`${endpoints.apiUrl}/models/${MODEL}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as {
      version: number;
      predictions: { label: string; probabilities: Record<string, number> }[];
    };
  }

  test('a 20,000-row file: every row scored in input order, equal to the API, version pinned across a promotion mid-job', async () => {
    const file = ai4iBatchCsv(20_000);
    const { job, key } = await upload(`batch/${MODEL}/machines.csv`, file.text);
    let promotedWhileRunning = false;
    const report = await reportOf(MODEL, job, async () => {
      if (promotedWhileRunning || (await text(jobRecordKey(MODEL, job))) === undefined) return;
      // The job has pinned its version: register a copy of it as v2 and make it champion now.
      const [manifest, onnx] = await Promise.all([registry.getManifest(MODEL, 1), registry.getModelBytes(MODEL, 1)]);
      const v2 = await registry.register(MODEL, onnx, manifest, { actor: 'test', reason: 'mid-job promotion' });
      await registry.promote(MODEL, v2.version, { actor: 'test', reason: 'mid-job promotion' });
      promotedWhileRunning = (await text(reportKey(MODEL, job))) === undefined;
    });
    expect(promotedWhileRunning).toBe(true);
    const champion = await registry.resolveAlias(MODEL, 'champion');
    expect(champion !== undefined && champion !== 'unchanged' && champion.record.version).toBe(2);
    expect(report).toMatchObject({
      status: 'succeeded',
      version: 1,
      rowsIn: 20_000,
      rowsScored: 20_000,
      rowsRefused: 0,
    });
    expect(report.results.length).toBeGreaterThan(5);
    // The parts, concatenated in the report's order: the header plus every input row, in order.
    const out = (await Promise.all(report.results.map((k) => text(k)))).join('').split('\n');
    expect(out.pop()).toBe('');
    expect(out[0]).toBe(`${file.header},prediction,probability_0,probability_1`);
    const rows = out.slice(1);
    expect(rows).toHaveLength(20_000);
    rows.forEach((row, i) => {
      if (!row.startsWith(`${file.lines[i]},`)) throw new Error(`output row ${i} is not input row ${i}: ${row}`);
    });
    // A sample of rows, every 397th: the batch answer is the API's.
    const sample = rows.map((_, i) => i).filter((i) => i % 397 === 0);
    const answered = await api({ instances: sample.map((i) => ai4iFeatures(file.lines[i])) });
    sample.forEach((i, j) => {
      const cells = rows[i].split(',');
      const [label, p0, p1] = cells.slice(-3);
      expect([i, label, Number(p0), Number(p1)]).toEqual([
        i,
        answered.predictions[j].label,
        answered.predictions[j].probabilities['0'],
        answered.predictions[j].probabilities['1'],
      ]);
    });
    // The upload stays where it was.
    await expect(s3.send(new HeadObjectCommand({ Bucket: endpoints.dataBucket, Key: key }))).resolves.toBeDefined();
  });

  test('a file with 10 bad rows: exactly those 10 are listed with their line and reason, the rest scored', async () => {
    const file = ai4iBatchCsv(3_000);
    const lines = [...file.lines];
    const bad = [5, 17, 400, 999, 1000, 1500, 2222, 2500, 2998, 2999]; // indexes into the data rows
    const breakers = [
      (c: string[]) => ((c[3] = 'hot'), c),
      (c: string[]) => ((c[2] = 'Q'), c),
      (c: string[]) => c.slice(0, 5),
      (c: string[]) => ((c[6] = 'NaN'), c),
    ];
    bad.forEach((i, n) => (lines[i] = breakers[n % breakers.length](lines[i].split(',')).join(',')));
    const { job } = await upload(`batch/${MODEL}/with-bad-rows.csv`, `${file.header}\n${lines.join('\n')}\n`);
    const report = await reportOf(MODEL, job);
    expect(report).toMatchObject({ status: 'succeeded', rowsIn: 3_000, rowsScored: 2_990, rowsRefused: 10 });
    // File line = data row index + 2 (line 1 is the header).
    expect(report.refused.map((r) => r.line)).toEqual(bad.map((i) => i + 2));
    expect(report.refused[0].reason).toMatch(/Air temperature \[K\].*finite number/);
    expect(report.refused[1].reason).toMatch(/unknown category "Q"/);
    expect(report.refused[2].reason).toMatch(/has 5 values; the header has 14/);
    const out = (await Promise.all(report.results.map((k) => text(k)))).join('');
    expect(out.split('\n').filter((l) => l !== '')).toHaveLength(1 + 2_990);
  });

  test.each([
    ['empty_file', 'empty.csv', ''],
    ['unparseable', 'binary.csv', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0x14, 0, 0])],
    ['unparseable', 'broken.jsonl', '{"Type": "L", \n'],
    ['wrong_columns', 'wrong.csv', 'a,b,c\n1,2,3\n'],
  ])(
    'a bad file (%s) ends with a report saying why, no results, the upload left in place',
    async (code, name, body) => {
      const { job, key } = await upload(`batch/${MODEL}/${name}`, body);
      const report = await reportOf(MODEL, job);
      expect(report).toMatchObject({ status: 'refused', reason: { code }, rowsScored: 0, results: [] });
      expect(await keysUnder(resultsPrefix(MODEL, job))).toEqual([]);
      await expect(s3.send(new HeadObjectCommand({ Bucket: endpoints.dataBucket, Key: key }))).resolves.toBeDefined();
    },
  );

  test('an unknown model ends with a report naming it', async () => {
    const { job } = await upload('batch/nosuchmodel/x.csv', 'a\n1\n');
    const report = await reportOf('nosuchmodel', job);
    expect(report).toMatchObject({ status: 'refused', reason: { code: 'unknown_model' } });
    expect(report.reason?.message).toMatch(/no model "nosuchmodel"/);
  });

  /** `npm run batch -- <args>` against this platform (LOCAL_DATA_DIR): exit code and output, never a throw. */
  async function batchCli(args: readonly string[]) {
    try {
      const { stdout, stderr } = await promisify(execFile)(
        join(REPO, 'node_modules/.bin/tsx'),
        [join(REPO, 'local/batch-cli.ts'), ...args],
        { cwd: REPO, env: { ...process.env, LOCAL_DATA_DIR: dataDir } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('npm run batch --wait uploads a file, follows its job and says how it ended in one line', async () => {
    const file = join(dataDir, 'rows.csv');
    writeFileSync(file, ai4iBatchCsv(500).text);
    const run = await batchCli([file, MODEL, '--wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/job rows-csv-\w+: 500 of 500 rows scored by ai4i2020 v\d+, 0 refused/);
    const refused = join(dataDir, 'wrong.csv');
    writeFileSync(refused, 'x,y\n1,2\n');
    const bad = await batchCli([refused, MODEL, '--wait']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/the file was refused: line 1 is neither a header.*nothing was written as results/);
  });

  test('npm run batch refuses an unknown model and bad usage with one line and exit 2', async () => {
    const unknown = await batchCli([join(dataDir, 'rows.csv'), 'nosuchmodel']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toMatch(
      /^unknown model "nosuchmodel": it has no champion to score with \(models: ai4i2020\)$/,
    );
    const usage = await batchCli([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^usage: npm run batch/);
  });

  test('the same upload event delivered twice: one execution scores the job, the other ends as a recorded duplicate', async () => {
    const { job, key } = await upload(`batch/${MODEL}/twice.csv`, ai4iBatchCsv(3_000).text);
    const head = await s3.send(new HeadObjectCommand({ Bucket: endpoints.dataBucket, Key: key }));
    const event = { bucket: endpoints.dataBucket, key, etag: (head.ETag ?? '').replace(/"/g, '') };
    // The platform's own delivery started the execution named by the job id; this is a second one.
    while (!platform.batch.find(job)) await new Promise((r) => setTimeout(r, 5));
    const first = platform.batch.find(job);
    const again = platform.batch.onObjectCreated(event, `${job}-redelivered`);
    expect(again && first).toBeTruthy();
    const [a, b] = await Promise.all([first!.result, again!.result]);
    const outcomes = [a, b].map((r) =>
      r.status === 'SUCCEEDED' ? (r.output as { start: { status: string } }).start.status : r.status,
    );
    expect([...outcomes].sort()).toEqual(['duplicate', 'started']);
    const report = await reportOf(MODEL, job);
    expect(report).toMatchObject({ status: 'succeeded', rowsIn: 3_000, rowsScored: 3_000 });
    expect(await keysUnder(resultsPrefix(MODEL, job))).toEqual(report.results);
    const duplicates = await keysUnder(`batch-results/${MODEL}/${job}/duplicates/`);
    expect(duplicates).toHaveLength(1);
    const loser = outcomes[0] === 'duplicate' ? first!.name : again!.name;
    expect(duplicates[0]).toContain(loser);
    // Exactly one execution ran Finish: the duplicate's output has no finish.
    const finished = [a, b].filter((r) => r.status === 'SUCCEEDED' && (r.output as { finish?: unknown }).finish);
    expect(finished).toHaveLength(1);
  });

  test('a job interrupted before its report resumes on restart with its pinned version, output not duplicated', async () => {
    const { job } = await upload(`batch/${MODEL}/resume.csv`, ai4iBatchCsv(5_000).text);
    const first = await reportOf(MODEL, job);
    const before = (await Promise.all(first.results.map((k) => text(k)))).join('');
    // The champion moves on, then the platform stops as if mid-job: no report, a part missing.
    const [manifest, onnx] = await Promise.all([registry.getManifest(MODEL, 1), registry.getModelBytes(MODEL, 1)]);
    const next = await registry.register(MODEL, onnx, manifest, { actor: 'test', reason: 'newer champion' });
    await registry.promote(MODEL, next.version, { actor: 'test', reason: 'newer champion' });
    await platform.batch.idle();
    for (const key of [reportKey(MODEL, job), first.results[1]])
      await s3.send(new DeleteObjectCommand({ Bucket: endpoints.dataBucket, Key: key }));
    await platform.close();
    await start(join(dataDir, 'specs'));
    const resumed = await reportOf(MODEL, job);
    expect(resumed).toMatchObject({ status: 'succeeded', version: first.version, rowsIn: 5_000, rowsScored: 5_000 });
    expect(resumed.version).not.toBe(next.version);
    expect(resumed.results).toEqual(first.results);
    expect(await keysUnder(resultsPrefix(MODEL, job))).toEqual(first.results);
    expect((await Promise.all(resumed.results.map((k) => text(k)))).join('')).toBe(before);
  });
});
