import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { listRuns } from '../../core/pipeline/runs';
import { S3ObjectStore } from '../../core/s3-object-store';
import { readEndpoints } from '../../local/endpoints';
import type { PipelineEvent } from '../../local/local-pipeline';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { irisShifted } from '../helpers/more-readings';
import { type FigureRow, recordPart } from './collector';

/**
 * Ctrl-C at each state of a run, then `npm start` again: what `npm start`'s shutdown does
 * (platform.close(): the function process is stopped, executions in flight fail where they are) in
 * the middle of Validate, TrainCandidates and Register, and of first-start seeding. The next start
 * must finish every interrupted run exactly once: one run record, one new version, nothing left in
 * incoming/.
 */

const REPO = join(__dirname, '../..');

jest.setTimeout(300_000);

describe('runs interrupted by a stop finish exactly once on the next start', () => {
  const rows: FigureRow[] = [];
  let dataDir: string;
  let specsDir: string;
  let platform: LocalPlatform | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'interrupted-runs-'));
    specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    const spec = JSON.parse(readFileSync(join(REPO, 'config/models/iris.json'), 'utf8')) as {
      training: { algorithms: string[] };
    };
    spec.training.algorithms = ['lr', 'nb'];
    writeFileSync(join(specsDir, 'iris.json'), JSON.stringify(spec));
    // A model with a spec but no bundled data: "models ready" must name it, not claim it serves.
    writeFileSync(join(specsDir, 'flowers.json'), JSON.stringify({ ...spec, name: 'flowers' }));
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
    recordPart({
      part: 'Interrupted runs',
      what: 'npm start stopped (platform.close(), what Ctrl-C does) the moment a run entered a state, then started again on the same data folder; one upload of new rows per case (the seeding case: the bundled iris file).',
      rows,
    });
  });

  /** Starts the platform; `stopAt` closes it (as Ctrl-C does) the moment any execution enters a state named so (a prefix: Register = RegisterChampion or RegisterChallenger). */
  async function start(stopAt?: string): Promise<{ platform: LocalPlatform; stopped: Promise<void> }> {
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onPipelineEvent = (event: PipelineEvent) => {
      if (stopAt !== undefined && event.type === 'state' && event.state.startsWith(stopAt)) {
        stopAt = undefined;
        void platform?.close().then(stop);
      }
    };
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      log: () => undefined,
      onPipelineEvent,
    });
    return { platform, stopped };
  }

  function stores() {
    const endpoints = readEndpoints(dataDir);
    const s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: endpoints.region,
      forcePathStyle: true,
      credentials: LOCAL_S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const keys = async (bucket: string, prefix: string) =>
      ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
        (o) => o.Key as string,
      );
    return { s3, endpoints, keys, models: new S3ObjectStore(s3, endpoints.modelBucket) };
  }

  /** Restarts, waits until every run is done, and returns what the registry and runs/ hold. */
  async function restartAndSettle() {
    const { platform: restarted } = await start();
    await restarted.seeded;
    await restarted.pipeline.idle();
    const { keys, endpoints, models } = stores();
    const runs = await listRuns(models, 'iris');
    const versions = (await keys(endpoints.modelBucket, 'registry/iris/versions/')).filter((k) =>
      k.endsWith('/manifest.json'),
    ).length;
    return { runs, versions, incoming: await keys(endpoints.dataBucket, 'incoming/') };
  }

  test('a stop during first-start seeding: the next start trains and promotes the model', async () => {
    const { platform: first, stopped } = await start('TrainCandidates');
    await stopped;
    void first;
    const after = await restartAndSettle();
    const once =
      after.versions === 1 &&
      after.runs.filter((r) => r.status === 'finished').length === 1 &&
      after.incoming.length === 0;
    rows.push({
      case: 'stopped during first-start seeding (TrainCandidates)',
      tried: 1,
      survived: once ? 1 : 0,
      lost: once ? 0 : 1,
      notes: `${after.versions} version(s), ${after.runs.length} run record(s), ${after.incoming.length} object(s) left in incoming/`,
    });
    expect(after.versions).toBe(1);
    expect(after.runs.filter((r) => r.status === 'finished')).toHaveLength(1);
    expect(after.incoming).toEqual([]);
    expect(await platform?.unserved()).toEqual([
      { model: 'flowers', reason: 'no champion yet: upload data to incoming/flowers/' },
    ]);
    await platform?.close();
  });

  for (const [state, delta] of [
    ['Validate', 0.05],
    ['TrainCandidates', 0.06],
    ['Register', 0.07],
  ] as const) {
    test(`a stop during ${state}: the next start finishes the run once (one record, one version, nothing left in incoming/)`, async () => {
      const before = await restartAndSettle();
      await platform?.close();
      const { stopped } = await start(state);
      const { s3, endpoints } = stores();
      // New rows (a shifted regime), so the run trains and registers a version.
      const shifted = irisShifted(delta)
        .split('\n')
        .map((line) => {
          const [a, b, c, d, label] = line.split(',');
          return [a, (Number(b) + 3).toFixed(2), (Number(c) + 3).toFixed(2), d, label].join(',');
        })
        .join('\n');
      await s3.send(
        new PutObjectCommand({
          Bucket: endpoints.dataBucket,
          Key: `incoming/iris/interrupted-${state}.csv`,
          Body: shifted,
        }),
      );
      await stopped;

      const after = await restartAndSettle();
      const newRuns = after.runs.filter((r) => !before.runs.some((b) => b.runId === r.runId));
      const once =
        newRuns.length === 1 &&
        newRuns[0].status === 'finished' &&
        after.versions === before.versions + 1 &&
        after.incoming.length === 0;
      rows.push({
        case: `stopped during ${state}`,
        tried: 1,
        survived: once ? 1 : 0,
        lost: once ? 0 : 1,
        notes: `1 upload in; ${newRuns.length} run record(s) (${newRuns.map((r) => r.status).join(', ')}), ${after.versions - before.versions} new version(s), ${after.incoming.length} left in incoming/`,
      });
      expect(newRuns.map((r) => r.status)).toEqual(['finished']);
      expect(after.versions).toBe(before.versions + 1);
      expect(after.incoming).toEqual([]);
      await platform?.close();
    });
  }
});
