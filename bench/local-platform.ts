import { ai4iMoreReadings } from '../test/helpers/more-readings';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readEndpoints } from '../local/endpoints';
import { localS3Client } from '../local/s3-server';
import { table } from './markdown';
import { freePort } from './ports';

/**
 * The local platform as a user meets it: `npm start` in a new process on a fresh data folder,
 * timed to its first successful prediction and to every configured model serving; then a
 * restart (resume), and an upload timed until the new version answers /predict.
 * ai4i2020 is first trained with naive Bayes only (floor lowered so it is promoted) and restarted
 * with gradient boosting, which beats it, so the upload ends in a real promotion.
 */

const ROOT = join(__dirname, '..');
const IRIS = { features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 } };
const AI4I = {
  features: {
    Type: 'L',
    'Air temperature [K]': 298.1,
    'Process temperature [K]': 308.6,
    'Rotational speed [rpm]': 1551,
    'Torque [Nm]': 42.8,
    'Tool wear [min]': 0,
  },
};

interface Started {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly apiUrl: string;
}

async function npmStart(env: Record<string, string>): Promise<Started> {
  const output: string[] = [];
  // Its own process group, so Ctrl-C (SIGINT) reaches npm, tsx and the platform together.
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
  return { child, output, apiUrl: `http://localhost:${env.PORT}` };
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => started.child.once('exit', () => resolve()));
  process.kill(-(started.child.pid as number), 'SIGINT');
  await exited;
}

async function until<T>(
  what: string,
  started: Started,
  probe: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline || started.child.exitCode !== null)
      throw new Error(`local platform bench: no ${what}; output:\n${started.output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function predict(apiUrl: string, path: string, body: unknown): Promise<{ version?: number } | undefined> {
  const response = await fetch(`${apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status === 200 ? ((await response.json()) as { version?: number }) : undefined;
}

function writeSpecs(specsDir: string, ai4iAlgorithms: string[]): void {
  cpSync(join(ROOT, 'config', 'models'), specsDir, { recursive: true });
  const file = join(specsDir, 'ai4i2020.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as {
    training: { algorithms: string[] };
    gate: { floor: number };
  };
  spec.training.algorithms = ai4iAlgorithms;
  spec.gate.floor = 0.5;
  writeFileSync(file, JSON.stringify(spec));
}

export async function benchLocalPlatform(
  outDir: string,
  log: (line: string) => void,
): Promise<{ markdown: string; failures: string[] }> {
  rmSync(outDir, { recursive: true, force: true });
  const dataDir = join(outDir, 'data');
  const specsDir = join(outDir, 'specs');
  mkdirSync(specsDir, { recursive: true });
  writeSpecs(specsDir, ['nb']);
  const env = {
    PORT: String(await freePort()),
    S3_PORT: String(await freePort()),
    LOCAL_DATA_DIR: dataDir,
    MODEL_SPECS_DIR: specsDir,
  };

  const t0 = performance.now();
  let run = await npmStart(env);
  const seconds = (from: number) => (performance.now() - from) / 1000;
  await until('health', run, async () => ((await fetch(`${run.apiUrl}/health`)).status === 200 ? true : undefined));
  const toHealth = seconds(t0);
  await until('first prediction', run, () => predict(run.apiUrl, '/models/iris/predict', IRIS));
  const toFirstPrediction = seconds(t0);
  await until('every model seeded', run, async () =>
    run.output.some((l) => l.includes('models ready')) ? true : undefined,
  );
  const toAllSeeded = seconds(t0);
  log(
    `  npm start: /health ${toHealth.toFixed(1)} s, first prediction ${toFirstPrediction.toFixed(1)} s, every model serving ${toAllSeeded.toFixed(1)} s`,
  );
  await stop(run);

  // A spec change ships with the function: restart (a redeploy), then upload better-suited data.
  writeSpecs(specsDir, ['gbdt']);
  const t1 = performance.now();
  run = await npmStart(env);
  await until('first prediction after restart', run, () => predict(run.apiUrl, '/predict', AI4I));
  const resume = seconds(t1);
  const endpoints = readEndpoints(dataDir);
  const s3 = localS3Client(endpoints.s3Endpoint as string);
  const t2 = performance.now();
  await s3.send(
    new PutObjectCommand({
      Bucket: endpoints.dataBucket,
      Key: 'incoming/ai4i2020/bench-readings.csv',
      Body: ai4iMoreReadings(1),
    }),
  );
  await until('version 2 serving', run, async () =>
    (await predict(run.apiUrl, '/predict', AI4I))?.version === 2 ? true : undefined,
  );
  const uploadToServing = seconds(t2);
  const runLine = run.output.find((l) => /ai4i2020\s+succeeded/.test(l)) ?? '';
  const runSeconds = Number(/\(([\d.]+) s\)/.exec(runLine)?.[1] ?? NaN);
  log(
    `  restart to first prediction ${resume.toFixed(1)} s; upload -> new version serving ${uploadToServing.toFixed(1)} s (pipeline run ${runSeconds.toFixed(1)} s)`,
  );
  await stop(run);

  const markdown = [
    'The local platform as a user starts it: `npm start` in a new process (npm, tsx, the platform), fresh data folder, free ports.',
    '',
    table(
      ['step', 'seconds'],
      [
        ['`npm start` -> `GET /health` answers 200', toHealth.toFixed(1)],
        [
          '`npm start` -> first successful `POST /models/iris/predict` (iris trained, registered and promoted by the pipeline)',
          toFirstPrediction.toFixed(1),
        ],
        [
          '`npm start` -> every configured model serving (iris, smoke, sentiment, ai4i2020 - naive Bayes only in this run - trained in turn)',
          toAllSeeded.toFixed(1),
        ],
        ['second `npm start` (resume) -> first prediction', resume.toFixed(1)],
        [
          'upload of 10,000 new ai4i2020 rows (the same readings a minute later: the pipeline drops rows it already has) -> the new version answers `/predict` (no restart)',
          uploadToServing.toFixed(1),
        ],
        [
          '  of which the pipeline run (validate, train on 20,000 rows, evaluate against the champion, register, promote)',
          runSeconds.toFixed(1),
        ],
      ],
    ),
    '',
    'The rest of upload -> serving is the inference function noticing the new champion: it re-checks the alias after `MODEL_TTL_SECONDS` (5 s locally, 60 s by default in AWS) with a conditional GET.',
  ].join('\n');
  return { markdown, failures: [] };
}
