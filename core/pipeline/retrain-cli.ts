import '../sdk-node-version-warning';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { localDataDir, readEndpoints } from '../platform-endpoints';
import type { ExecutionInput } from './contract';
import { loadModelSpecs } from './model-specs';

export const USAGE = `usage: npm run retrain -- <model> [--wait]

Starts an on-demand run of the retraining pipeline on all of the model's processed data.
  --wait   follow the execution until it ends (exit 0 when it succeeded)
Environment: STATE_MACHINE_ARN (the MlopsPipeline stack's StateMachineArn output), AWS_REGION,
AWS_ENDPOINT_URL (optional, for an emulator). Without STATE_MACHINE_ARN: the local platform (npm start)
at API_URL, else the one whose endpoints.json is in LOCAL_DATA_DIR (default .local).`;

export interface RetrainIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** @default setTimeout-based sleep; tests pass a fast one */
  readonly sleep?: (ms: number) => Promise<void>;
}

const SPECS_DIR = join(__dirname, '..', '..', 'config', 'models');
const POLL_MS = 5000;

/** Step Functions execution names: 1-80 characters of [A-Za-z0-9-_]; unique per manual start. */
export function manualExecutionName(model: string, now: Date): string {
  return `manual-${model}-${now
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 17)}`.slice(0, 80);
}

/** Starts (and optionally follows) one execution; returns the exit code (2: cannot be done as asked). */
export async function runRetrainCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: RetrainIo,
  client?: SFNClient,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { wait: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [model] = positionals;
  const known = loadModelSpecs(SPECS_DIR).map((s) => s.name);
  if (!model || !known.includes(model)) {
    io.err(
      `${model ? `no model spec for "${model}"` : 'which model?'} (known models: ${known.join(', ')})\n\n${USAGE}`,
    );
    return 2;
  }
  const stateMachineArn = env.STATE_MACHINE_ARN;
  if (!stateMachineArn) {
    const apiUrl = env.API_URL || localApiUrl(env);
    if (apiUrl) return retrainLocally(apiUrl, model, values.wait, io);
    io.err(
      `STATE_MACHINE_ARN is not set (export it from the MlopsPipeline stack's StateMachineArn output) and no local platform was found (npm start writes ${join(localDataDir(env), 'endpoints.json')})\n\n${USAGE}`,
    );
    return 2;
  }
  const sfn =
    client ??
    new SFNClient({
      region: env.AWS_REGION || 'us-east-1',
      ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
    });
  // The state machine adds `execution` itself ($$.Execution.Name); the caller gives model and trigger.
  const input: Omit<ExecutionInput, 'execution'> = { model, trigger: 'manual' };
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      name: manualExecutionName(model, new Date()),
      input: JSON.stringify(input),
    }),
  );
  io.out(`started ${started.executionArn}`);
  if (!values.wait) return 0;

  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') {
      io.out(`${execution.status}${execution.error ? `: ${execution.error} ${execution.cause ?? ''}` : ''}`);
      if (execution.output) io.out(execution.output);
      return execution.status === 'SUCCEEDED' ? 0 : 1;
    }
    await sleep(POLL_MS);
  }
}

/** The API of the local platform whose endpoints file is in LOCAL_DATA_DIR, if there is one. */
function localApiUrl(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return readEndpoints(localDataDir(env)).apiUrl;
  } catch {
    return undefined;
  }
}

/** What the local platform answered, or a one-line reason it could not be asked. */
async function askLocal(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    throw new LocalUnreachable(
      `cannot reach the local platform at ${url} (${cause?.code ?? (error as Error).message}): is npm start running?`,
    );
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: response.status, body: { error: { message: text || response.statusText } } };
  }
}

class LocalUnreachable extends Error {}

const errorMessage = (body: Record<string, unknown>) =>
  (body.error as { message?: string } | undefined)?.message ?? JSON.stringify(body);

/** The same run on the local platform: its POST /_local/retrain/<model>, followed by GET /_local/executions/<name>. */
async function retrainLocally(apiUrl: string, model: string, wait: boolean, io: RetrainIo): Promise<number> {
  const base = apiUrl.replace(/\/+$/, '');
  try {
    const started = await askLocal(`${base}/_local/retrain/${encodeURIComponent(model)}`, { method: 'POST' });
    if (started.status !== 202) {
      io.err(`the local platform did not start a run: ${started.status}: ${errorMessage(started.body)}`);
      return started.status === 404 ? 2 : 1;
    }
    const execution = String(started.body.execution);
    io.out(`started ${execution} on the local platform at ${base}`);
    if (!wait) return 0;
    const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (;;) {
      const described = await askLocal(`${base}/_local/executions/${encodeURIComponent(execution)}`);
      if (described.status !== 200) {
        io.err(`cannot follow ${execution}: ${described.status}: ${errorMessage(described.body)}`);
        return 1;
      }
      const { status, output, error, cause } = described.body as Record<string, unknown>;
      if (status !== 'RUNNING') {
        io.out(`${String(status)}${error ? `: ${String(error)} ${cause === undefined ? '' : String(cause)}` : ''}`);
        if (output !== undefined) io.out(JSON.stringify(output));
        return status === 'SUCCEEDED' ? 0 : 1;
      }
      await sleep(LOCAL_POLL_MS);
    }
  } catch (error) {
    if (!(error instanceof LocalUnreachable)) throw error;
    io.err(error.message);
    return 2;
  }
}

const LOCAL_POLL_MS = 500;

if (require.main === module) {
  runRetrainCli(process.argv.slice(2), process.env, { out: (t) => console.log(t), err: (t) => console.error(t) }).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
      process.exit(1);
    },
  );
}
