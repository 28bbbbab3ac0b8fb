import { PutObjectCommand } from '@aws-sdk/client-s3';
import { batchJobId, claimKey, duplicateKey, jobRecordKey, reportKey } from '../../core/batch/keys';
import type { BatchReport } from '../../core/batch/report';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { type BatchDeps, recordFailure, scoreChunks, startJob } from '../../lambdas/batch/steps';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The batch Start step's claim against the local S3 server (its conditional writes are S3's): one
 * execution per job however many times the upload event is delivered, and who may take a claim over.
 */
jest.setTimeout(60_000);

describe('a batch job is claimed by one execution', () => {
  let s3: TestS3;
  let deps: BatchDeps;
  let n = 0;

  beforeAll(async () => {
    s3 = await startTestS3(['data', 'models']);
    const registry = new ModelRegistry(s3.store('models'), new OnnxModelValidator());
    const spec = DATASETS.iris;
    const table = loadDataset(spec);
    const run = trainCandidates(table, { ...trainOptionsFor(spec), algorithms: ['lr'] });
    const exported = exportModel(run, run.best, 'iris', table.sources);
    const { version } = await registry.register('iris', exported.onnx, exported.manifest, { actor: 'test' });
    await registry.promote('iris', version, { actor: 'test', reason: 'claim test' });
    deps = { s3: s3.client, data: s3.store('data'), dataBucket: 'data', registry, chunkBytes: 1024 };
  });
  afterAll(() => s3?.close());

  /** A fresh upload (its own job) and the Start input the event gives. */
  async function upload() {
    const key = `batch/iris/file-${++n}.csv`;
    const put = await s3.client.send(
      new PutObjectCommand({ Bucket: 'data', Key: key, Body: '5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n' }),
    );
    const object = { bucket: 'data', key, etag: (put.ETag ?? '').replace(/"/g, '') };
    return { object, job: batchJobId(object) };
  }
  const read = async <T>(key: string) => {
    const stored = await deps.data.get(key);
    return stored ? (JSON.parse(Buffer.from(stored.body).toString('utf8')) as T) : undefined;
  };

  test('the same event delivered twice: the first execution starts the job, the second ends as a recorded duplicate', async () => {
    const { object, job } = await upload();
    const first = await startJob(deps, { ...object, execution: 'exec-a' });
    expect(first).toMatchObject({ status: 'started', job });
    const second = await startJob(deps, { ...object, execution: 'exec-b' });
    expect(second).toEqual({
      status: 'duplicate',
      job,
      model: 'iris',
      handledBy: 'exec-a',
      recordKey: duplicateKey('iris', job, 'exec-b'),
    });
    expect(await read(duplicateKey('iris', job, 'exec-b'))).toMatchObject({ execution: 'exec-b', handledBy: 'exec-a' });
    expect(await read(claimKey('iris', job))).toMatchObject({ execution: 'exec-a' });
    // A retried Start (or a restart reusing the execution name) is still the holder.
    expect(await startJob(deps, { ...object, execution: 'exec-a' })).toMatchObject({ status: 'started', job });
  });

  test('deliveries racing each other: exactly one execution starts the job', async () => {
    const { object } = await upload();
    const results = await Promise.all(
      ['r1', 'r2', 'r3', 'r4', 'r5'].map((execution) => startJob(deps, { ...object, execution })),
    );
    const started = results.filter((r) => r.status === 'started');
    expect(started).toHaveLength(1);
    const winner = (await read<{ execution: string }>(claimKey('iris', started[0].job)))?.execution;
    for (const r of results.filter((x) => x.status !== 'started'))
      expect(r).toMatchObject({ status: 'duplicate', handledBy: winner });
  });

  test('a duplicate that fails does not mark the running job failed; once the holder fails, a re-run takes the job over', async () => {
    const { object, job } = await upload();
    await startJob(deps, { ...object, execution: 'holder' });
    const error = { Error: 'Boom', Cause: 'broke' };
    expect(await recordFailure(deps, { ...object, execution: 'other', error })).toEqual({ status: 'failed' });
    expect(await deps.data.get(reportKey('iris', job))).toBeUndefined();
    // The holder fails: its report says so, and the next execution may take the job.
    await recordFailure(deps, { ...object, execution: 'holder', error });
    expect(await read<BatchReport>(reportKey('iris', job))).toMatchObject({ status: 'failed' });
    const version = (await read<{ version: number }>(jobRecordKey('iris', job)))?.version;
    const rerun = await startJob(deps, { ...object, execution: 'rerun' });
    expect(rerun).toMatchObject({ status: 'started', job, version });
    expect(await read(claimKey('iris', job))).toMatchObject({ execution: 'rerun' });
    // The failed holder, come back, is now the duplicate.
    expect(await startJob(deps, { ...object, execution: 'holder' })).toMatchObject({
      status: 'duplicate',
      handledBy: 'rerun',
    });
  });

  test('a finished job is not run again by a late duplicate event', async () => {
    const { object, job } = await upload();
    await startJob(deps, { ...object, execution: 'done' });
    await deps.data.put(reportKey('iris', job), JSON.stringify({ status: 'succeeded' }));
    expect(await startJob(deps, { ...object, execution: 'late' })).toMatchObject({
      status: 'duplicate',
      handledBy: 'done',
    });
  });

  test('a claim object naming no execution is an error, not a silent takeover', async () => {
    const { object, job } = await upload();
    await deps.data.put(claimKey('iris', job), '{}');
    await expect(startJob(deps, { ...object, execution: 'x' })).rejects.toThrow(
      /claim\.json exists but names no execution/,
    );
  });

  test('a file replaced under the same key mid-job fails the chunk read instead of scoring the new bytes', async () => {
    const { object, job } = await upload();
    const started = await startJob(deps, { ...object, execution: 'exec-replaced' });
    expect(started).toMatchObject({ status: 'started', job });
    const chunk = { BatchInput: { model: 'iris', job }, Items: [{ index: 0, start: 0, end: 32 }] };
    await s3.client.send(
      new PutObjectCommand({ Bucket: 'data', Key: object.key, Body: '4.9,3.0,1.4,0.2\n7.7,2.6,6.9,2.3\n' }),
    );
    await expect(scoreChunks(deps, chunk)).rejects.toMatchObject({ name: 'PreconditionFailed' });
  });
});
