import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { batchJobId, reportKey } from '../../core/batch/keys';
import type { BatchReport } from '../../core/batch/report';
import { readEndpoints, type PlatformEndpoints } from '../../local/endpoints';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { ai4iBatchCsv, ai4iFeatures } from '../helpers/batch-files';
import { writeAi4iSpec } from '../helpers/ai4i-spec';

/**
 * The acceptance run: a 1,000,000-row ai4i2020-like file under batch/ai4i2020/ through the
 * local platform (the synthesised BatchTransform definition, default 8 MiB chunks, its Distributed
 * Map run by local/distributed-map.ts): results with 1,000,000 rows in input order, predictions
 * equal to the API's for a sample, report counts that add up, the pinned version recorded.
 */

const MODEL = 'ai4i2020';
const ROWS = 1_000_000;

describe('batch transform at 1,000,000 rows on the local platform', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let endpoints: PlatformEndpoints;
  let s3: S3Client;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mlops-batch-scale-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    writeAi4iSpec(specsDir);
    platform = await startLocalPlatform({ dataDir, port: 0, s3Port: 0, specsDir, log: () => undefined });
    await platform.seeded;
    if ((await platform.unserved()).length > 0) throw new Error('ai4i2020 is not serving');
    endpoints = readEndpoints(dataDir);
    s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: endpoints.region,
      forcePathStyle: true,
      credentials: LOCAL_S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  });

  afterAll(async () => {
    await platform?.batch.idle();
    await platform?.close();
    s3?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const text = async (key: string) => {
    try {
      return await (
        await s3.send(new GetObjectCommand({ Bucket: endpoints.dataBucket, Key: key }))
      ).Body?.transformToString();
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  };

  test('every row scored, in input order, equal to the API for a sample', async () => {
    const file = ai4iBatchCsv(ROWS);
    const key = `batch/${MODEL}/million.csv`;
    const put = await s3.send(new PutObjectCommand({ Bucket: endpoints.dataBucket, Key: key, Body: file.text }));
    const job = batchJobId({ bucket: endpoints.dataBucket, key, etag: put.ETag ?? '' });
    let body: string | undefined;
    while ((body = await text(reportKey(MODEL, job))) === undefined) await new Promise((r) => setTimeout(r, 500));
    const report = JSON.parse(body) as BatchReport;
    expect(report).toMatchObject({ status: 'succeeded', version: 1, rowsIn: ROWS, rowsScored: ROWS, rowsRefused: 0 });
    let row = 0;
    const sample: { i: number; cells: string[] }[] = [];
    for (const part of report.results) {
      const lines = ((await text(part)) ?? '').split('\n');
      lines.pop();
      for (const line of part === report.results[0] ? lines.slice(1) : lines) {
        if (!line.startsWith(`${file.lines[row]},`)) throw new Error(`output row ${row} is not input row ${row}`);
        if (row % 9973 === 0) sample.push({ i: row, cells: line.split(',') });
        row++;
      }
    }
    expect(row).toBe(ROWS);
    const response = await fetch(`${endpoints.apiUrl}/models/${MODEL}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: sample.map((s) => ai4iFeatures(file.lines[s.i])) }),
    });
    const answered = (await response.json()) as {
      predictions: { label: string; probabilities: Record<string, number> }[];
    };
    sample.forEach((s, j) => {
      const [label, p0, p1] = s.cells.slice(-3);
      expect([s.i, label, Number(p0), Number(p1)]).toEqual([
        s.i,
        answered.predictions[j].label,
        answered.predictions[j].probabilities['0'],
        answered.predictions[j].probabilities['1'],
      ]);
    });
  });
});
