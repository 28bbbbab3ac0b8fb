import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { type PlatformEndpoints, readEndpoints } from '../../local/endpoints';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';

/**
 * `npm start` as its own process (node --import tsx local/main.ts, no npm or tsx wrapper in
 * between, so the pid is the platform's and its RSS is the platform's alone), on free ports with a
 * scratch data folder and the iris spec only.
 */

const REPO = join(__dirname, '../..');

export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
export const IRIS_CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];

export interface PlatformProcess {
  readonly pid: number;
  readonly endpoints: PlatformEndpoints;
  readonly dataDir: string;
  readonly s3: S3Client;
  /** Everything the platform printed so far. */
  output(): string;
  /** Resident set size of the platform process, from /proc (Linux). */
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startPlatformProcess(timeoutMs = 90_000): Promise<PlatformProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'reliability-platform-'));
  const specsDir = join(dataDir, 'specs');
  mkdirSync(specsDir);
  copyFileSync(join(REPO, 'config/models/iris.json'), join(specsDir, 'iris.json'));
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: '0',
      S3_PORT: '0',
      LOCAL_DATA_DIR: dataDir,
      MODEL_SPECS_DIR: specsDir,
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(join(dataDir, 'endpoints.json')) && /models ready/.test(output))) {
    if (child.exitCode !== null)
      throw new Error(`the platform exited (${child.exitCode}) before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the platform was not ready in ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const endpoints = readEndpoints(dataDir);
  const s3 = new S3Client({
    endpoint: endpoints.s3Endpoint,
    region: endpoints.region,
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const pid = child.pid as number;
  return {
    pid,
    endpoints,
    dataDir,
    s3,
    output: () => output,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024,
    async stop() {
      s3.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A valid iris row, varied by `i` within the features' usual ranges. */
export function irisRow(i: number): Record<string, number> {
  const wave = (k: number, lo: number, hi: number) => Number((lo + ((Math.sin(i * k) + 1) / 2) * (hi - lo)).toFixed(2));
  return {
    sepal_length: wave(1.3, 4.3, 7.9),
    sepal_width: wave(2.1, 2.0, 4.4),
    petal_length: wave(0.7, 1.0, 6.9),
    petal_width: wave(3.7, 0.1, 2.5),
  };
}

export async function postJson(
  apiUrl: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
