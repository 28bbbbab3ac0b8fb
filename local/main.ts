import '../core/sdk-node-version-warning';
import { resolve } from 'node:path';
import { localDataDir } from './endpoints';
import { LOCAL_S3_CREDENTIALS } from './s3-server';
import { startLocalPlatform } from './platform';
import { progressReporter } from './progress';
import { shellWord } from '../core/shell';

/**
 * `npm start`: the whole platform on this machine. PORT (3000), S3_PORT (4568), LOCAL_DATA_DIR
 * (.local) and MODEL_SPECS_DIR (config/models) configure it; Ctrl-C stops it; the next start
 * resumes from the data folder.
 */

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`${name} must be a port number (0-65535, 0 = any free port); got "${raw}"`);
    process.exit(2);
  }
  return value;
}

/** The variables that choose the ports, and the ports they chose. */
type Ports = Readonly<Record<'PORT' | 'S3_PORT', number>>;

/** One line for a port another process holds: which port, the likely culprit, the variable that moves it; undefined for other errors. */
function portInUse(error: unknown, ports: Ports): string | undefined {
  const { code, port: taken } = (error ?? {}) as { code?: unknown; port?: unknown };
  if (code !== 'EADDRINUSE') return undefined;
  const variable = (Object.keys(ports) as (keyof Ports)[]).find((name) => ports[name] === taken) ?? 'PORT or S3_PORT';
  return `port ${String(taken)} (${variable}) is already in use: another npm start may be running; stop it, or start on another port: ${variable}=<port> npm start (0 = any free port)`;
}

/**
 * The S3 server (s3rver) does not pass a listen error to its caller: Node throws it as an uncaught
 * 'error' event. While the platform starts, such an error is read here; other errors end the
 * process as an uncaught exception would.
 */
function onStartupError(ports: Ports): (error: unknown) => never {
  return (error) => {
    const clash = portInUse(error, ports);
    console.error(clash ?? error);
    process.exit(clash ? 2 : 1);
  };
}

async function main(): Promise<void> {
  const dataDir = localDataDir();
  const started = performance.now();
  const log = (line: string) => console.log(line);
  const ports: Ports = { PORT: port('PORT', 3000), S3_PORT: port('S3_PORT', 4568) };
  const startupError = onStartupError(ports);
  process.on('uncaughtException', startupError);
  // The API server's listen error is a rejection instead (the platform has stopped its S3 server by then).
  const platform = await startLocalPlatform({
    dataDir,
    port: ports.PORT,
    s3Port: ports.S3_PORT,
    specsDir: process.env.MODEL_SPECS_DIR || undefined,
    log,
    onPipelineEvent: progressReporter(log),
  }).catch(startupError);
  process.off('uncaughtException', startupError);
  const { apiUrl, s3Endpoint, dataBucket, modelBucket, region } = platform.endpoints;
  // The CLIs find this platform through LOCAL_DATA_DIR/endpoints.json and read the specs it reads:
  // the commands printed here carry whatever this start was given, so they work as pasted.
  const settings = (['LOCAL_DATA_DIR', 'MODEL_SPECS_DIR'] as const)
    .flatMap((name) => (process.env[name] ? [`${name}=${shellWord(resolve(process.env[name]))} `] : []))
    .join('');
  const credentials = `AWS_ACCESS_KEY_ID=${LOCAL_S3_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_S3_CREDENTIALS.secretAccessKey} AWS_REGION=${region}`;
  log(
    [
      '',
      `Local MLOps platform ready in ${((performance.now() - started) / 1000).toFixed(1)} s (data in ${resolve(dataDir)})`,
      `  API        ${apiUrl}   (try it: ${apiUrl}/ , metrics: ${apiUrl}/dashboard)`,
      `  S3         ${s3Endpoint}   buckets: ${dataBucket} (data), ${modelBucket} (models)`,
      '',
      'Predict:',
      `  curl -s ${apiUrl}/models/iris/predict -H 'content-type: application/json' -d '{"features":{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}}'`,
      'Upload data to retrain (either):',
      `  ${settings}npm run upload -- training/datasets/iris.csv iris --wait`,
      `  ${credentials} aws --endpoint-url ${s3Endpoint} s3 cp training/datasets/iris.csv s3://${dataBucket}/incoming/iris/iris.csv`,
      '',
    ].join('\n'),
  );
  platform.seeded.then(
    async () => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const unserved = await platform.unserved();
      if (unserved.length === 0) log(`seed       models ready (${seconds} s after start)`);
      else
        log(
          `seed       models ready except ${unserved.map((u) => `${u.model} (${u.reason})`).join(', ')} (${seconds} s after start)`,
        );
    },
    (error: unknown) => log(`seed       failed: ${error instanceof Error ? error.message : String(error)}`),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping (runs in progress stay in incoming/ and resume on the next start)`);
    platform.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
