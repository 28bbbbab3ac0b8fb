import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { versionKey } from '../../core/registry/keys';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import { readEndpoints } from '../../local/endpoints';
import type { PipelineEvent } from '../../local/local-pipeline';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';
import { localS3Client } from '../../local/s3-server';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { irisShifted } from '../helpers/more-readings';
import { recordPart, type FigureRow } from './collector';
import { eventually, irisRow, postJson } from './platform-process';

/**
 * Faults (b)-(d) against the platform started in this process (startLocalPlatform, iris only,
 * champion re-checked every second): a corrupted model file is refused while the previous
 * version keeps serving; promotions racing through the platform's S3 server (conditional writes)
 * leave a consistent history; S3 events delivered twice and out of order retrain once per object version.
 */

const REPO = join(__dirname, '../..');
jest.setTimeout(180_000);

describe('faults: corrupted model, racing promotions, duplicate and late events', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let apiUrl: string;
  let registry: ModelRegistry;
  const rows: FigureRow[] = [];
  const measurements: Record<string, string> = {};
  const lines: string[] = [];
  const events: PipelineEvent[] = [];

  /** A valid iris model, trained here, registered straight into the platform's registry. */
  async function registerModel(reason: string): Promise<number> {
    const table = loadDataset(DATASETS.iris);
    const run = trainCandidates(table, { ...trainOptionsFor(DATASETS.iris), algorithms: ['lr'] });
    const model = exportModel(run, run.best, 'iris', table.sources);
    return (await registry.register('iris', model.onnx, model.manifest, { actor: 'reliability', reason })).version;
  }
  const served = async () =>
    (await postJson(apiUrl, '/models/iris/predict', { features: irisRow(5) })) as {
      status: number;
      json: { version?: number };
    };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'reliability-faults-'));
    const specsDir = join(dataDir, 'specs');
    mkdirSync(specsDir);
    copyFileSync(join(REPO, 'config/models/iris.json'), join(specsDir, 'iris.json'));
    platform = await startLocalPlatform({
      dataDir,
      port: 0,
      s3Port: 0,
      specsDir,
      modelTtlSeconds: 1,
      log: (line) => lines.push(line),
      onPipelineEvent: (e) => events.push(e),
    });
    await platform.seeded;
    const endpoints = readEndpoints(dataDir);
    apiUrl = endpoints.apiUrl;
    registry = new ModelRegistry(
      new S3ObjectStore(localS3Client(endpoints.s3Endpoint as string), endpoints.modelBucket),
      new OnnxModelValidator(),
    );
  });

  afterAll(async () => {
    recordPart({
      part: 'Faults: registry and events',
      what: 'Against the platform started in-process (startLocalPlatform, iris only, champion re-checked every 1 s), over HTTP, the AWS SDK and the registry API on its S3 server.',
      rows,
      measurements,
    });
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('(b) a corrupted model.onnx promoted to champion is refused, and the previous version keeps serving', async () => {
    const before = await served();
    const version = await registerModel('to be corrupted');
    const endpoints = readEndpoints(dataDir);
    await localS3Client(endpoints.s3Endpoint as string).send(
      new PutObjectCommand({
        Bucket: endpoints.modelBucket,
        Key: versionKey('iris', version, 'model.onnx'),
        Body: randomBytes(2048),
      }),
    );
    await registry.promote('iris', version, { actor: 'reliability', reason: 'corrupted on purpose' });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const answers = await Promise.all(Array.from({ length: 50 }, () => served()));
    const good = answers.filter((a) => a.status === 200 && a.json.version === before.json.version).length;
    const refusedLogged = lines.some((l) => /refus|sha256|ModelLoad/i.test(l) && l.includes(`${version}`));
    rows.push({
      case: '(b) predictions after a corrupted champion',
      tried: answers.length,
      survived: good,
      lost: answers.length - good,
      notes: `v${version} corrupted and promoted; served v${[...new Set(answers.map((a) => a.json.version))].join('/')}; refusal logged: ${refusedLogged}`,
    });
    expect(before.json.version).toBe(1);
    expect(good).toBe(answers.length);
    expect(refusedLogged).toBe(true);
  });

  test('(c) promotions racing through conditional writes: each applies once, in one consistent history', async () => {
    const v = await registerModel('race a');
    const w = await registerModel('race b');
    const other = new ModelRegistry(
      new S3ObjectStore(localS3Client(readEndpoints(dataDir).s3Endpoint as string), 'mlops-models'),
      new OnnxModelValidator(),
    );
    const before = (await registry.history('iris', 'champion')).length;
    const pairs = 5;
    let settled = 0;
    let failed = 0;
    for (let round = 0; round < pairs; round++) {
      const results = await Promise.allSettled([
        registry.promote('iris', v, { actor: 'a', reason: `round ${round}` }),
        other.promote('iris', w, { actor: 'b', reason: `round ${round}` }),
      ]);
      settled += results.filter((r) => r.status === 'fulfilled').length;
      failed += results.filter((r) => r.status === 'rejected').length;
    }
    const history = await registry.history('iris', 'champion');
    const moves = history.slice(before);
    const chained = history.every((m, i) => i === 0 || m.previousVersion === history[i - 1].version);
    const alias = await registry.resolveAlias('iris', 'champion');
    const current = alias && alias !== 'unchanged' ? alias.record.version : undefined;
    rows.push({
      case: '(c) racing promote() calls (2 at a time)',
      tried: pairs * 2,
      survived: settled,
      lost: failed,
      notes: `${moves.length} alias moves recorded for ${pairs * 2} calls (a call finding its version already champion moves nothing); history chained: ${chained}; champion v${current} = last move v${history.at(-1)?.version}`,
    });
    expect(failed).toBe(0);
    expect(chained).toBe(true);
    expect(current).toBe(history.at(-1)?.version);
    expect(moves.length).toBeGreaterThanOrEqual(pairs);
    expect(moves.every((m) => m.version === v || m.version === w)).toBe(true);
  });

  test("(d) the same S3 event twice, and an older object's event after a newer one, retrain once per object version (two files of new rows)", async () => {
    const endpoints = readEndpoints(dataDir);
    const data = new S3ObjectStore(localS3Client(endpoints.s3Endpoint as string), endpoints.dataBucket);
    const versionsBefore = (await registry.listVersions('iris')).length;
    const startedBefore = events.filter((e) => e.type === 'started').length;
    // The server delivers each upload's event once by itself; the test delivers more.
    const older = {
      bucket: endpoints.dataBucket,
      key: 'incoming/iris/older.csv',
      etag: (await data.put('incoming/iris/older.csv', irisShifted(0.01))).etag,
    };
    const again = platform.pipeline.onObjectCreated(older);
    await platform.pipeline.idle();
    const newer = {
      bucket: endpoints.dataBucket,
      key: 'incoming/iris/newer.csv',
      etag: (await data.put('incoming/iris/newer.csv', irisShifted(0.02))).etag,
    };
    await platform.pipeline.idle();
    const late = [
      platform.pipeline.onObjectCreated(older),
      platform.pipeline.onObjectCreated(newer),
      platform.pipeline.onObjectCreated(newer),
    ];
    await platform.pipeline.idle();
    await eventually(
      'incoming/ to empty',
      async () => ((await data.list('incoming/')).length === 0 ? true : undefined),
      30_000,
    );

    const started = events.filter((e) => e.type === 'started').length - startedBefore;
    const registered = (await registry.listVersions('iris')).length - versionsBefore;
    const deliveries = 2 + 1 + late.length;
    const refused = [again, ...late].filter((e) => e === undefined).length;
    rows.push({
      case: '(d) S3 event deliveries (2 objects: 2 by the server, 4 by the test)',
      tried: deliveries,
      survived: deliveries - Math.max(0, started - 2) - Math.max(0, registered - 2),
      lost: Math.max(0, started - 2) + Math.max(0, registered - 2),
      notes: `${started} executions started, ${refused} duplicate deliveries refused, ${registered} versions registered`,
    });
    expect(started).toBe(2);
    expect(refused).toBe(4);
    expect(registered).toBe(2);
  });
});
