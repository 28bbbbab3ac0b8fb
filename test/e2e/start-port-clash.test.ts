import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm start` when one of its ports is taken (a second npm start, or anything else): one line
 * naming the port, the likely other instance and the variable that moves it, exit 2 (the S3
 * server's clash used to be an uncaught 'error' event with its stack, exit 1).
 */

const REPO = join(__dirname, '../..');

jest.setTimeout(120_000);

let dataDir: string;
let specsDir: string;
let holder: Server;
let taken: number;

/** `npm start` (local/main.ts) as its own process with these ports; its exit code and what it printed. */
function start(env: {
  PORT: string;
  S3_PORT: string;
}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
      cwd: REPO,
      env: { ...process.env, ...env, LOCAL_DATA_DIR: mkdtempSync(join(dataDir, 'run-')), MODEL_SPECS_DIR: specsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Should it start after all, it would run until stopped: end it and let the assertions say so.
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'port-clash-'));
  specsDir = join(dataDir, 'specs');
  mkdirSync(specsDir);
  copyFileSync(join(REPO, 'config/models/iris.json'), join(specsDir, 'iris.json'));
  // Another process on the loopback address both servers listen on.
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  taken = (holder.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start when a port is taken', () => {
  test('the S3 port: one line naming it and S3_PORT, exit 2, no stack', async () => {
    const r = await start({ PORT: '0', S3_PORT: String(taken) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `port ${taken} (S3_PORT) is already in use: another npm start may be running; stop it, or start on another port: S3_PORT=<port> npm start (0 = any free port)`,
    );
    expect(r.stdout).not.toMatch(/ready/);
  });

  test('the API port: one line naming it and PORT, exit 2, no stack', async () => {
    const r = await start({ PORT: String(taken), S3_PORT: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `port ${taken} (PORT) is already in use: another npm start may be running; stop it, or start on another port: PORT=<port> npm start (0 = any free port)`,
    );
    expect(r.stdout).not.toMatch(/ready/);
  });
});
