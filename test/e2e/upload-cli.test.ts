import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { readEndpoints, writeEndpoints } from '../../local/endpoints';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';

/**
 * `npm run upload` against `npm start` (local/main.ts as its own process, started with
 * LOCAL_DATA_DIR and MODEL_SPECS_DIR as a user would): the upload command the startup banner
 * prints works as pasted, a model without a spec is refused before anything is uploaded, the
 * message says what the platform will do rather than what it will decide, and --wait follows the
 * run to its outcome (0: a version or no new data; 1: the file was quarantined).
 */

const REPO = join(__dirname, '../..');
const IRIS = readFileSync(join(REPO, 'training/datasets/iris.csv'), 'utf8');

jest.setTimeout(240_000);

let scratch: string;
let dataDir: string;
let specsDir: string;
let platform: ChildProcess;
let output = '';
let s3: S3Client;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command's exit code and output; `env` replaces LOCAL_DATA_DIR / MODEL_SPECS_DIR (undefined: unset). */
function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const base = { ...process.env };
  delete base.LOCAL_DATA_DIR;
  delete base.MODEL_SPECS_DIR;
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd: REPO, env: { ...base, ...env }, timeout: 180_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `npm run upload -- ...args` without npm in between, as the platform's user (its data folder and specs). */
const upload = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'local/upload-cli.ts', ...args], {
    LOCAL_DATA_DIR: dataDir,
    MODEL_SPECS_DIR: specsDir,
  });

/** A file of the given text in the scratch folder. */
function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const keys = async (prefix: string) =>
  ((await s3.send(new ListObjectsV2Command({ Bucket: 'mlops-data', Prefix: prefix }))).Contents ?? []).map(
    (o) => o.Key,
  );

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'upload-cli-'));
  dataDir = join(scratch, 'data');
  specsDir = join(scratch, 'specs');
  mkdirSync(specsDir);
  // iris with two quick algorithms: the runs here are about what the CLI says, not about training.
  const spec = JSON.parse(readFileSync(join(REPO, 'config/models/iris.json'), 'utf8')) as {
    training: { algorithms: string[] };
  };
  spec.training.algorithms = ['lr', 'nb'];
  writeFileSync(join(specsDir, 'iris.json'), JSON.stringify(spec));
  platform = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    cwd: REPO,
    env: { ...process.env, PORT: '0', S3_PORT: '0', LOCAL_DATA_DIR: dataDir, MODEL_SPECS_DIR: specsDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  platform.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  platform.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 180_000;
  while (!/seed {7}models ready/.test(output)) {
    if (platform.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not get ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const endpoints = readEndpoints(dataDir);
  s3 = new S3Client({
    endpoint: endpoints.s3Endpoint,
    region: endpoints.region,
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
});

afterAll(async () => {
  s3?.destroy();
  if (platform && platform.exitCode === null) {
    const exited = new Promise((resolve) => platform.once('exit', resolve));
    platform.kill('SIGTERM');
    await exited;
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('npm run upload against npm start', () => {
  test('the upload command npm start prints carries its LOCAL_DATA_DIR and MODEL_SPECS_DIR and works as pasted', async () => {
    const printed = /^ {2}(.*npm run upload -- .*)$/m.exec(output)?.[1];
    expect(printed).toBe(
      `LOCAL_DATA_DIR=${dataDir} MODEL_SPECS_DIR=${specsDir} npm run upload -- training/datasets/iris.csv iris --wait`,
    );
    // Pasted into a shell that has neither variable set.
    const r = await run('sh', ['-c', printed as string], {});
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(
      `uploaded training/datasets/iris.csv (${IRIS.length} bytes) to s3://mlops-data/incoming/iris/iris.csv`,
    );
    // The seed trained on these rows (as incoming/iris/seed-iris.csv): a run of its own, with no new data.
    expect(r.stdout).toMatch(
      /^run \S+ ended: no new data: all 150 clean row\(s\) of incoming\/iris\/iris\.csv are already in processed\/iris\/; nothing was trained$/m,
    );
  });

  test('refuses a model with no spec in one line listing those with one, exit 2, and uploads nothing', async () => {
    const r = await upload(file('readings.csv', IRIS), 'nosuchmodel', '--wait');
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `no model spec for "nosuchmodel" in ${specsDir}, so the platform would quarantine the upload (models with a spec: iris)\n`,
    });
    expect(await keys('incoming/nosuchmodel/')).toEqual([]);
    expect(await keys('quarantine/nosuchmodel/')).toEqual([]);
  });

  test('without --wait: says what the platform will do with the upload, not that a run starts now', async () => {
    const r = await upload(file('again.csv', IRIS), 'iris');
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `uploaded ${join(scratch, 'again.csv')} (${IRIS.length} bytes) to s3://mlops-data/incoming/iris/again.csv`,
      expect.stringMatching(
        /^the platform starts a retraining run for iris when it sees the upload, unless its rows are already known \(the run then ends as "no new data"\) or it breaks the data contract \(it is then quarantined\); --wait follows it, as do the npm start terminal and http:\/\/localhost:\d+\/dashboard$/,
      ),
    ]);
  });

  test('--wait on new rows: follows the run to its new version, exit 0', async () => {
    // Every iris row, nudged: rows the model has not seen, with their real labels.
    const nudged =
      IRIS.trim()
        .split('\n')
        .map((line) => line.replace(/^(\d+\.\d+)/, (v) => (Number(v) + 0.01).toFixed(2)))
        .join('\n') + '\n';
    const r = await upload(file('nudged.csv', nudged), 'iris', '--wait');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^run \S+ handles it \(Ctrl-C stops waiting, not the run\)$/m);
    expect(r.stdout).toMatch(
      /^run \S+ finished: v\d+ registered (and promoted: iris's champion, now serving|as challenger, not promoted)$/m,
    );
    expect(r.stdout).toMatch(/^gate: /m);
  });

  test('--wait on rows the model already has: the run ends with no new data, exit 0', async () => {
    const r = await upload(file('copy.csv', IRIS), 'iris', '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^run \S+ ended: no new data: /m);
  });

  test('--wait on a file that breaks the data contract: says it was quarantined and why, exit 1', async () => {
    const r = await upload(file('broken.csv', '5.1,3.5,1.4,0.2,Iris-setosa\n'), 'iris', '--wait');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^refused: the file breaks iris's data contract and was moved to s3:\/\/mlops-data\/quarantine\/iris\/broken\.csv \(report: quarantine\/iris\/broken\.csv\.report\.json\)$/m,
    );
    expect(r.stdout).toMatch(/^ {2}1 usable row\(s\), the contract needs at least 30$/m);
  });

  test('with no platform to upload to: one line, exit 2', async () => {
    const none = mkdtempSync(join(scratch, 'none-'));
    const missing = await run(
      process.execPath,
      ['--import', 'tsx', 'local/upload-cli.ts', file('x.csv', IRIS), 'iris'],
      { LOCAL_DATA_DIR: none, MODEL_SPECS_DIR: specsDir },
    );
    expect(missing).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(
        /^\S+endpoints\.json not found: start the local platform first \(npm start\), or set LOCAL_DATA_DIR to its data folder\n$/,
      ),
    });

    // An endpoints file left by an npm start that has stopped.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    copyFileSync(join(dataDir, 'endpoints.json'), join(none, 'endpoints.json'));
    writeEndpoints(none, { ...readEndpoints(none), s3Endpoint: dead });
    const stopped = await run(
      process.execPath,
      ['--import', 'tsx', 'local/upload-cli.ts', file('x.csv', IRIS), 'iris'],
      { LOCAL_DATA_DIR: none, MODEL_SPECS_DIR: specsDir },
    );
    expect(stopped).toEqual({
      code: 2,
      stdout: '',
      stderr: `cannot reach the local platform's S3 server at ${dead} (is npm start running? ${join(none, 'endpoints.json')} says it answers there)\n`,
    });
  });
});
