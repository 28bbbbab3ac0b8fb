import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepRequest } from '../../core/pipeline/contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import { processedKey, processedReportKey } from '../../lambdas/pipeline/keys';
import { createStepRunner } from '../../lambdas/pipeline/runner';
import { SNS_PUBLISH, synthesisedPipeline } from '../../local/local-pipeline';
import { NO_MANAGED_TRAINING } from '../helpers/lambda-only';
import { type LocalS3Server, localS3Client, startS3Server } from '../../local/s3-server';
import { runStateMachine } from '../../local/state-machine';
import { Rng } from '../../training/rng';
import { recordPart } from './collector';

/**
 * Step Functions refuses a state (any state's input or output) over 256 KiB, and that failure
 * cannot be caught by the definition's own Catch. A model's data grows by a file per upload, so
 * nothing that grows with the files may travel in the state. Here one model has 5,000 processed
 * files and a run goes through the definition CDK synthesises, in the ASL interpreter, with the
 * real steps over a real S3 server; every state's input and the final output are measured.
 */

const FILES = Number(process.env.STATE_SIZE_FILES ?? 5000);
const STATE_LIMIT_BYTES = 256 * 1024;
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'class'];
const CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];

/** One small file of iris-like rows per upload: class k around its own petal length. */
function fileRows(rng: Rng): string[][] {
  return Array.from({ length: 3 }, (_, k) => [
    (5 + rng.next()).toFixed(3),
    (3 + rng.next()).toFixed(3),
    (1.5 + 2 * k + rng.next()).toFixed(3),
    (0.2 + 0.8 * k + rng.next() / 2).toFixed(3),
    CLASSES[k],
  ]);
}

describe(`execution state with ${FILES} processed files for one model`, () => {
  let directory: string;
  let scratch: string;
  let server: LocalS3Server;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'state-size-s3-'));
    scratch = mkdtempSync(join(tmpdir(), 'state-size-scratch-'));
    server = await startS3Server({ directory, buckets: ['data', 'models'] });
  });

  afterAll(async () => {
    await server.close().catch(() => undefined);
    rmSync(directory, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  // Writing and reading 10,000 objects through the local S3 server takes minutes on 2 cores.
  test('every state stays far below 256 KiB, and the run trains on all the files', async () => {
    const client = localS3Client(server.endpoint);
    const dataStore = new S3ObjectStore(client, 'data');
    const modelStore = new S3ObjectStore(client, 'models');
    // What Validate leaves per upload: the clean copy, its report and its rows' identities.
    const rng = new Rng(7);
    const start = Date.parse('2026-01-01T00:00:00Z');
    const t0 = performance.now();
    for (let i = 0; i < FILES; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, FILES - i) }, async (_, j) => {
          const n = i + j;
          const rows = fileRows(rng);
          const key = processedKey('iris', `upload-${n}.csv`, `etag${n}`, new Date(start + n * 60_000));
          // (A manual run reads no .rows sidecar, so none is written.)
          await dataStore.put(
            processedReportKey(key),
            JSON.stringify({ rowsOut: rows.length, rowsKept: rows.length, droppedCount: 0 }),
          );
          await dataStore.put(key, [COLUMNS, ...rows].map((r) => r.join(',')).join('\n') + '\n');
        }),
      );
    }
    const writeSeconds = (performance.now() - t0) / 1000;

    const iris = loadModelSpecs(join(__dirname, '../../config/models')).find((s) => s.name === 'iris') as ModelSpec;
    const spec: ModelSpec = { ...iris, training: { ...iris.training, algorithms: ['lr', 'nb'] } };
    const registry = new ModelRegistry(modelStore, new OnnxModelValidator());
    const steps = createStepRunner({
      dataStore,
      modelStore,
      registry,
      specs: new Map([['iris', spec]]),
      clock: () => new Date(),
      tmpDir: scratch,
      dataBucket: 'data',
    });
    const { definition, functionArn } = synthesisedPipeline([spec]);

    const sizes: { state: string; bytes: number }[] = [];
    const t1 = performance.now();
    const result = await runStateMachine(
      definition,
      { model: 'iris', trigger: 'manual' },
      {
        executionName: 'state-size',
        onStateEntered: (state, input) =>
          sizes.push({ state, bytes: Buffer.byteLength(JSON.stringify(input ?? null)) }),
        taskHandlers: {
          [functionArn]: (payload) => steps(payload as unknown as StepRequest),
          ...NO_MANAGED_TRAINING,
          [SNS_PUBLISH]: async () => ({ MessageId: '1' }),
        },
      },
    );
    const runSeconds = (performance.now() - t1) / 1000;
    if (result.status === 'SUCCEEDED')
      sizes.push({ state: '(execution output)', bytes: Buffer.byteLength(JSON.stringify(result.output)) });
    const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a), { state: '-', bytes: 0 });
    const output =
      result.status === 'SUCCEEDED'
        ? (result.output as { prepare: { files: number; rows: number }; registration: { version: number } })
        : undefined;

    recordPart({
      part: 'Execution state with thousands of files',
      what: `One model with ${FILES} processed files (3 rows each); a manual run through the synthesised definition in the ASL interpreter with the real steps over a real S3 server. Every state's input and the execution output measured as JSON against Step Functions' 256 KiB limit.`,
      rows: [
        {
          case: 'states entered under 256 KiB',
          tried: sizes.length,
          survived: sizes.filter((s) => s.bytes < STATE_LIMIT_BYTES).length,
          lost: sizes.filter((s) => s.bytes >= STATE_LIMIT_BYTES).length,
          notes: `largest ${largest.bytes} bytes (${largest.state})`,
        },
        {
          case: 'files trained on',
          tried: FILES,
          survived: output?.prepare.files ?? 0,
          lost: FILES - (output?.prepare.files ?? 0),
          notes:
            result.status === 'FAILED'
              ? `run failed: ${result.error}: ${(result.cause ?? '').slice(0, 200)}`
              : `${output?.prepare.rows ?? 0} rows; registered v${output?.registration.version ?? '-'}`,
        },
      ],
      measurements: {
        'writing the files took': `${writeSeconds.toFixed(1)} s`,
        'the run took': `${runSeconds.toFixed(1)} s`,
        'largest state': `${largest.bytes} bytes (${((100 * largest.bytes) / STATE_LIMIT_BYTES).toFixed(2)}% of 256 KiB)`,
      },
    });

    expect(result.status === 'FAILED' ? `${result.error}: ${result.cause ?? ''}` : result.status).toBe('SUCCEEDED');
    expect(output?.prepare.files).toBe(FILES);
    expect(sizes.length).toBeGreaterThan(8);
    // Bounded, not merely under the limit: a few KiB whatever the number of files.
    expect(largest.bytes).toBeLessThan(16 * 1024);
  }, 900_000);
});
