import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readChunkLines } from '../core/batch/chunks';
import { chunkPlanKey, jobRecordKey } from '../core/batch/keys';
import type { BatchJob } from '../core/batch/report';
import type { ChunkRange } from '../core/batch/chunks';
import { createSession, toOrtFeeds } from '../core/onnx-session';
import { OnnxModelValidator } from '../core/registry/onnx-validator';
import { ModelRegistry } from '../core/registry/registry';
import { S3ObjectStore } from '../core/s3-object-store';
import { OnnxBackend } from '../lambdas/inference/backends/onnx';
import { CONFIG_DEFAULTS } from '../lambdas/inference/config';
import { instanceValidator } from '../lambdas/inference/request';
import { scoreChunk } from '../lambdas/batch/score';
import { finishJob, startJob } from '../lambdas/batch/steps';
import { DEFAULT_CHUNK_BYTES } from '../lambdas/batch/handler';
import { localS3Client, startS3Server } from '../local/s3-server';
import type { AlgorithmName } from '../training/algorithms/types';
import { DATASETS, loadDataset, trainOptionsFor } from '../training/datasets/catalog';
import { exportModel } from '../training/export';
import { trainCandidates } from '../training/train';
import { table } from './markdown';

/**
 * Batch transform throughput of ONE function (one process, one core): the job's Start step, then
 * every chunk of the file scored in sequence exactly as a Map child does (S3 range read -> split
 * and check rows -> onnxruntime in batches of 10,000 -> results part and summary written), then
 * Finish. The S3 server is the local one in this same process (its reads and writes share the
 * core; in AWS they are network I/O), so the times are split by stage.
 */

const TARGET_ROWS_PER_SECOND = 500_000;
const DATA = join(__dirname, '..', 'training', 'datasets');

/** The dataset's CSV lines (header first), repeated to `rows` data rows. */
function repeatedCsv(file: string, rows: number, header?: string): Buffer {
  const all = readFileSync(join(DATA, file), 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const [head, data] = header === undefined ? [all[0], all.slice(1)] : [header, all];
  const parts: string[] = [head];
  for (let i = 0; i < rows; i++) parts.push(data[i % data.length]);
  return Buffer.from(`${parts.join('\n')}\n`);
}

interface Case {
  readonly model: string;
  readonly dataset: string;
  readonly algorithm: AlgorithmName;
  readonly rows: number;
  readonly file: () => Buffer;
}

const CASES: Case[] = [
  {
    model: 'ai4i2020',
    dataset: 'ai4i2020',
    algorithm: 'lr',
    rows: 500_000,
    file: () => repeatedCsv('ai4i2020.csv', 500_000),
  },
  {
    model: 'ai4i2020-gbdt',
    dataset: 'ai4i2020',
    algorithm: 'gbdt',
    rows: 200_000,
    file: () => repeatedCsv('ai4i2020.csv', 200_000),
  },
  {
    model: 'iris',
    dataset: 'iris',
    algorithm: 'lr',
    rows: 500_000,
    file: () => repeatedCsv('iris.csv', 500_000, 'sepal_length,sepal_width,petal_length,petal_width,class'),
  },
];

export async function benchBatchTransform(
  outDir: string,
  log: (line: string) => void,
): Promise<{ markdown: string; failures: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  const server = await startS3Server({ directory: dir, buckets: ['data', 'models'] });
  const s3 = localS3Client(server.endpoint);
  const data = new S3ObjectStore(s3, 'data');
  const registry = new ModelRegistry(new S3ObjectStore(s3, 'models'), new OnnxModelValidator());
  const deps = { s3, data, dataBucket: 'data', registry, chunkBytes: DEFAULT_CHUNK_BYTES };
  const rows: string[][] = [];
  const failures: string[] = [];
  try {
    for (const c of CASES) {
      const spec = DATASETS[c.dataset];
      const table = loadDataset(spec);
      const run = trainCandidates(table, { ...trainOptionsFor(spec), algorithms: [c.algorithm] });
      const exported = exportModel(run, run.best, c.model, table.sources);
      const { version } = await registry.register(c.model, exported.onnx, exported.manifest, { actor: 'bench' });
      await registry.promote(c.model, version, { actor: 'bench', reason: 'batch transform benchmark' });
      const body = c.file();
      const key = `batch/${c.model}/bench.csv`;
      const put = await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: body }));
      const t0 = performance.now();
      const started = await startJob(deps, { bucket: 'data', key, etag: put.ETag ?? '' });
      if (started.status !== 'started') throw new Error(`bench job not started: ${JSON.stringify(started)}`);
      const record = JSON.parse(
        Buffer.from((await data.get(jobRecordKey(c.model, started.job)))!.body).toString(),
      ) as BatchJob;
      const plan = JSON.parse(
        Buffer.from((await data.get(chunkPlanKey(c.model, started.job)))!.body).toString(),
      ) as ChunkRange[];
      const predictor = await new OnnxBackend().open({ manifest: exported.manifest, onnx: exported.onnx });
      const session = await createSession(exported.onnx);
      const output = exported.manifest.outputs.probabilities;
      const validate = instanceValidator(exported.manifest.features, {
        maxBatch: Number.MAX_SAFE_INTEGER,
        maxBodyBytes: Number.MAX_SAFE_INTEGER,
        maxTextChars: CONFIG_DEFAULTS.maxTextChars,
      });
      let read = 0;
      let score = 0;
      let write = 0;
      let scored = 0;
      const tScore = performance.now();
      for (const chunk of plan) {
        const a = performance.now();
        const lines = await readChunkLines(
          async (s, e) => {
            const out = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key, Range: `bytes=${s}-${e - 1}` }));
            return out.Body!.transformToByteArray();
          },
          chunk,
          body.length,
        );
        const b = performance.now();
        const result = await scoreChunk(lines, {
          layout: record.layout,
          features: exported.manifest.features,
          classes: record.classes,
          validate,
          predict: (r) => predictor.predict(r),
          predictInputs: async (inputs) =>
            (await session.run(toOrtFeeds(inputs), [output]))[output].data as Float32Array,
          firstChunk: chunk.index === 0,
        });
        const c2 = performance.now();
        await data.put(`batch-results/${c.model}/${started.job}/results/part-${chunk.index}.csv`, result.output);
        await data.put(
          `batch-results/${c.model}/${started.job}/summaries/${String(chunk.index).padStart(6, '0')}.json`,
          JSON.stringify({
            index: chunk.index,
            lines: result.lines,
            rows: result.rows,
            scored: result.scored,
            refused: result.refused,
            seconds: 0,
          }),
        );
        const d = performance.now();
        read += b - a;
        score += c2 - b;
        write += d - c2;
        scored += result.scored;
      }
      const scoring = (performance.now() - tScore) / 1000;
      const finished = await finishJob(deps, { model: c.model, job: started.job });
      const total = (performance.now() - t0) / 1000;
      if (finished.rowsScored !== c.rows || scored !== c.rows)
        throw new Error(`${c.model}: scored ${scored} of ${c.rows}`);
      const perSecond = c.rows / scoring;
      const scoreOnly = c.rows / (score / 1000);
      log(
        `${c.model} (${c.algorithm}): ${c.rows} rows in ${plan.length} chunks, ${Math.round(perSecond)} rows/s end to end (read ${(read / 1000).toFixed(2)} s, parse+check+onnxruntime ${(score / 1000).toFixed(2)} s, write ${(write / 1000).toFixed(2)} s); whole job ${total.toFixed(2)} s`,
      );
      rows.push([
        `${c.model} (${c.algorithm})`,
        c.rows.toLocaleString('en-US'),
        String(plan.length),
        `${(body.length / 1e6).toFixed(1)} MB`,
        Math.round(perSecond).toLocaleString('en-US'),
        Math.round(scoreOnly).toLocaleString('en-US'),
        `${(read / 1000).toFixed(2)} / ${(score / 1000).toFixed(2)} / ${(write / 1000).toFixed(2)}`,
        total.toFixed(2),
      ]);
      if (c.algorithm === 'lr' && c.model === 'ai4i2020' && perSecond < TARGET_ROWS_PER_SECOND)
        failures.push(
          `batch transform ai4i2020 LR: ${Math.round(perSecond)} rows/s per function (target ${TARGET_ROWS_PER_SECOND})`,
        );
    }
  } finally {
    s3.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  void outDir;
  return {
    markdown: [
      `One function (one process, one core), a whole file scored chunk by chunk as a Map child does it: S3 range read -> split and check every row with the API's checks -> onnxruntime (10,000 rows a call) -> results part and summary written; ${DEFAULT_CHUNK_BYTES / 1024 / 1024} MiB chunks. The S3 server is the local one in the same process, so its work is in the read and write columns. Target: ${TARGET_ROWS_PER_SECOND.toLocaleString('en-US')} rows/s for LR.`,
      '',
      table(
        [
          'model',
          'rows',
          'chunks',
          'file',
          'rows/s end to end',
          'rows/s parse+check+score only',
          'read / score / write (s)',
          'whole job (s)',
        ],
        rows,
      ),
    ].join('\n'),
    failures,
  };
}
