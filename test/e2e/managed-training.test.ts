import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { listRuns, type RunRecord } from '../../core/pipeline/runs';
import { S3ObjectStore } from '../../core/s3-object-store';
import { algorithmLimit, TRAINING_CAPACITY } from '../../core/pipeline/training-capacity';
import { readEndpoints, type PlatformEndpoints } from '../../local/endpoints';
import type { PipelineEvent } from '../../local/local-pipeline';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';

/**
 * Data beyond one training function, through `npm start`'s platform: the synthesised state
 * machine's TrainingEngine? Choice sends the run to TrainCandidatesManaged, whose ECS task runs
 * here as the container's entry point in a child process (local/managed-task.ts), and the
 * candidate it writes is evaluated, gated and registered as a Lambda-trained one is.
 *
 * The function's limit is set low through the platform's pipelineMemoryMb (Lambda's
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE), not by editing the measured capacity: the memory size at which
 * the measured fit lets one function train lr on ~40,000 cells (a little over lr's base RSS), while
 * ai4i2020's 10,000 rows x 6 features are 60,000.
 */

const REPO = join(__dirname, '../..');
const AI4I = readFileSync(join(REPO, 'training/datasets/ai4i2020.csv'));
const MODEL = 'bigplant';
const LR = TRAINING_CAPACITY.algorithms.lr;
const PIPELINE_MEMORY_MB = Math.ceil(
  (LR.rssMiB.base + LR.rssMiB.perMillionCells * 0.04) / TRAINING_CAPACITY.memoryHeadroom,
);

jest.setTimeout(300_000);

describe('managed training through the local platform', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let endpoints: PlatformEndpoints;
  let s3: S3Client;
  let modelStore: S3ObjectStore;
  const lines: string[] = [];
  const events: PipelineEvent[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'managed-training-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    const spec = JSON.parse(readFileSync(join(REPO, 'config/models/ai4i2020.json'), 'utf8')) as Record<
      string,
      unknown
    > & {
      training: Record<string, unknown>;
      gate: { floor: number };
    };
    spec.name = MODEL;
    delete spec.schedule;
    spec.training.algorithms = ['lr', 'nb'];
    spec.gate.floor = 0.5;
    writeFileSync(join(specsDir, `${MODEL}.json`), JSON.stringify(spec));
    // The platform's default model (cdk.json) must have a spec; it is not trained here (seed: false).
    writeFileSync(join(specsDir, 'iris.json'), readFileSync(join(REPO, 'config/models/iris.json')));
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      seed: false,
      pipelineMemoryMb: PIPELINE_MEMORY_MB,
      log: (line) => lines.push(line),
      onPipelineEvent: (event) => events.push(event),
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
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function uploadAndRun(file: string, body: Uint8Array): Promise<RunRecord> {
    await s3.send(new PutObjectCommand({ Bucket: endpoints.dataBucket, Key: `incoming/${MODEL}/${file}`, Body: body }));
    for (let i = 0; i < 800; i++) {
      await platform.pipeline.idle();
      const done = (await listRuns(modelStore, MODEL)).filter((r) => r.status !== 'incomplete');
      if (done.length > 0) return done[0];
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`no run record for ${file}; platform output:\n${lines.join('\n')}`);
  }

  test('the premise: one function of this size cannot train this data', () => {
    const limit = algorithmLimit('lr', { memoryMb: PIPELINE_MEMORY_MB, timeoutSeconds: 900 });
    expect(limit?.maxCells).toBeGreaterThan(0);
    expect(limit?.maxCells).toBeLessThan(10_000 * 6);
  });

  test('an upload too large for one function trains on the managed task and promotes version 1', async () => {
    const started = Date.now();
    const record = await uploadAndRun('plant.csv', AI4I);
    const seconds = (Date.now() - started) / 1000;

    expect(record.status).toBe('finished');
    const summary = (record as Extract<RunRecord, { status: 'finished' }>).summary;
    expect(summary.training).toEqual({
      engine: 'managed',
      reason: expect.stringMatching(/larger than one training function/),
    });
    expect(summary.candidates.map((c) => c.algorithm).sort()).toEqual(['lr', 'nb']);
    expect(summary.decision).toMatchObject({ promote: true });

    // The execution took the managed branch: one ECS task per candidate, no Lambda train step.
    const states = events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
    expect(states).toEqual(
      expect.arrayContaining(['TrainingEngine?', 'TrainCandidatesManaged', 'TrainManaged', 'ReadCandidate']),
    );
    expect(states).not.toContain('TrainCandidates');
    expect(states.filter((s) => s === 'TrainManaged')).toHaveLength(2);
    const steps = events.flatMap((e) => (e.type === 'step' ? [e.step] : []));
    expect(steps).not.toContain('train');
    expect(steps).toEqual(expect.arrayContaining(['prepare', 'read-candidate', 'evaluate', 'register']));

    // The container's entry point wrote each candidate (its log line says how long it trained).
    const trained = lines.filter((l) => l.includes('candidate trained'));
    expect(trained).toHaveLength(2);
    const tasks = lines.filter((l) => l.includes('managed training task exited with code 0'));
    expect(tasks).toHaveLength(2);
    console.log(`managed run: ${seconds.toFixed(1)} s from upload to promotion; ${tasks.join('; ')}`);

    // Promoted: the API serves it.
    const response = await fetch(`${endpoints.apiUrl}/models/${MODEL}`);
    expect(((await response.json()) as { champion: { version: number } | null }).champion?.version).toBe(1);
  });
});
