import { mkdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { writeEndpoints } from '../../local/endpoints';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { registryCli, registryCliEnv } from '../helpers/registry-cli';
import { tempFiles } from '../helpers/temp-files';

/**
 * Where `npm run registry` goes when the shell names no registry: the running local platform,
 * found through the endpoints.json `npm start` writes (LOCAL_DATA_DIR, default .local), and what
 * it says, in one line and with exit 2, when there is none, when it does not answer, or when the
 * model asked for is not in it.
 */

const BUCKET = 'local-models';
const files = tempFiles();
let s3: TestS3;
let modelDir: string;
/** A data folder as npm start leaves it, pointing at the test S3 server. */
let running: string;
/** A data folder whose endpoints.json names a port nothing listens on (npm start was stopped). */
let stopped: string;
let stoppedEndpoint: string;
/** A data folder with no endpoints.json (npm start never ran here). */
let never: string;

/** What the shell of someone who just ran npm start has: no registry settings, and AWS keys of their own. */
const shell = (dataDir: string): NodeJS.ProcessEnv => ({
  LOCAL_DATA_DIR: dataDir,
  AWS_ACCESS_KEY_ID: 'AKIAOTHERACCOUNT',
  AWS_SECRET_ACCESS_KEY: 'not-the-local-key',
  USER: 'dana',
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function dataDir(name: string): string {
  const dir = join(dirname(files.write('.keep', '')), name);
  mkdirSync(dir);
  return dir;
}

beforeAll(async () => {
  s3 = await startTestS3([BUCKET, 'local-data']);
  const table = loadDataset(DATASETS.iris);
  const run = trainCandidates(table, { label: 'class', algorithms: ['lr'] });
  const { onnx, manifest } = exportModel(run, run.best, 'iris', table.sources);
  modelDir = dirname(files.write('model.onnx', Buffer.from(onnx)));
  files.write('manifest.json', JSON.stringify(manifest));

  const endpoints = {
    apiUrl: 'http://127.0.0.1:9',
    region: 'us-east-1',
    dataBucket: 'local-data',
    modelBucket: BUCKET,
  };
  running = dataDir('running');
  writeEndpoints(running, { ...endpoints, s3Endpoint: s3.server.endpoint });
  stopped = dataDir('stopped');
  stoppedEndpoint = `http://127.0.0.1:${await freePort()}`;
  writeEndpoints(stopped, { ...endpoints, s3Endpoint: stoppedEndpoint });
  never = dataDir('never');
});

afterAll(async () => {
  await s3.close();
  files.cleanup();
});

describe('registry CLI with no MODEL_BUCKET: the local platform', () => {
  it("uses the running local platform from its endpoints file, with its S3 keys, not the shell's", async () => {
    expect(await registryCli(shell(running), ['register', 'iris', modelDir, '--reason', 'first'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^registered iris v1 /),
    });
    const list = await registryCli(shell(running), ['list']);
    expect(list).toMatchObject({ code: 0, err: '' });
    expect(list.out).toMatch(/^iris\s+1\s+v1\s+-$/m);
  });

  it('says in one line that there is no such model, naming the models there are, exit 2', async () => {
    const r = await registryCli(shell(running), ['versions', 'nosuchmodel']);
    expect(r).toEqual({
      code: 2,
      out: '',
      err: `no model named "nosuchmodel" in the registry s3://${BUCKET} (models: iris)`,
    });
    // A missing version of a model that exists is still named as such.
    expect(await registryCli(shell(running), ['promote', 'iris', '7'])).toMatchObject({
      code: 2,
      err: 'UnknownModelError: model "iris" has no version 7',
    });
  });

  it('says in one line that the platform does not answer when its S3 server is down, exit 2', async () => {
    const r = await registryCli(shell(stopped), ['list']);
    expect(r).toEqual({
      code: 2,
      out: '',
      err: `cannot reach the model registry at ${stoppedEndpoint} (is npm start running? ${join(stopped, 'endpoints.json')} says it answers there)`,
    });
  });

  it('names both ways to a registry when there is neither MODEL_BUCKET nor an endpoints file, exit 2', async () => {
    const r = await registryCli(shell(never), ['list']);
    expect(r).toEqual({
      code: 2,
      out: '',
      err: `MODEL_BUCKET is not set and no local platform is running (no ${join(never, 'endpoints.json')}): export MODEL_BUCKET=<the model bucket name>, or start the local platform with npm start`,
    });
  });

  it('leaves the endpoints file alone when the shell names a target', async () => {
    // MODEL_BUCKET given: the stopped platform's file is not read.
    expect(
      await registryCli({ ...registryCliEnv(s3, BUCKET), LOCAL_DATA_DIR: stopped }, ['versions', 'iris']),
    ).toMatchObject({ code: 0 });
    // Only an endpoint given: not mixed with the local platform's bucket, and the message says how to get either.
    const r = await registryCli({ AWS_ENDPOINT_URL: s3.server.endpoint, LOCAL_DATA_DIR: running }, ['list']);
    expect(r).toEqual({
      code: 2,
      out: '',
      err: `MODEL_BUCKET is not set: export MODEL_BUCKET=<the model bucket name>, or unset AWS_ENDPOINT_URL to use the local platform (npm start) through ${join(running, 'endpoints.json')}`,
    });
  });

  it('says which endpoints file is broken, in one line', async () => {
    const broken = dataDir('broken');
    files.write('broken/endpoints.json', JSON.stringify({ apiUrl: 'not a url' }));
    const r = await registryCli(shell(broken), ['list']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      new RegExp(`^${join(broken, 'endpoints.json').replace(/[.]/g, '\\.')} is not a platform endpoints file: `),
    );
    expect(r.err).not.toContain('\n');
  });
});
