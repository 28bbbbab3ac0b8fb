import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DATASETS, loadDataset, trainOptionsFor } from '../training/datasets/catalog';
import { trainCandidates } from '../training/train';
import { table } from './markdown';
import { freePort } from './ports';
import { referencePython } from './sklearn';

/**
 * HTTP serving: the local platform's API (`local/main.ts` in its own process) against the
 * reference stack, FastAPI + uvicorn + scikit-learn (bench/http-reference/app.py in bench/.venv),
 * both serving the iris logistic regression on loopback, loaded by autocannon from this process
 * at 1, 16 and 64 connections with the same request body; and a bare Node HTTP server answering
 * a constant body (bench/http-floor.ts) as the floor.
 */

const ROOT = join(__dirname, '..');
const BODY = JSON.stringify({ features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 } });
const PATH = '/models/iris/predict';
const CONNECTIONS = [1, 16, 64] as const;
const WARMUP_SECONDS = 2;
const RUN_SECONDS = 10;
const TARGET_RATIO = 3;
/** Ours' p99 at most this many times its p50: a larger tail means something blocks the event loop in bursts. */
const TAIL_RATIO = 3;
/** Linux's USER_HZ: /proc/<pid>/stat CPU times are in these ticks. */
const CLOCK_TICKS = 100;

/** The part of autocannon's programmatic API used here (v8/v9). */
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}
interface AutocannonResult {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}
interface AutocannonInstance extends Promise<AutocannonResult> {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void,
  ): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon ships no types; the slice used is typed above.
const autocannon = require('autocannon') as (options: AutocannonOptions) => AutocannonInstance;

interface Load {
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failed: number;
  /** Share of one core the server process used during the run. */
  readonly serverCpu: number;
  /** Share of one core this process (the load generator) used. */
  readonly generatorCpu: number;
}

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly url: string;
}

function start(name: string, command: string, args: string[], env: Record<string, string>, port: number): Server {
  const output: string[] = [];
  // Its own process group, so the stop signal reaches everything it started.
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
  return { name, child, output, url: `http://127.0.0.1:${port}` };
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  process.kill(-(server.child.pid as number), 'SIGINT');
  const killed = setTimeout(() => process.kill(-(server.child.pid as number), 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(killed);
}

/** Waits until the server answers the benchmarked request with a 200 and a prediction. */
async function ready(server: Server, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await fetch(`${server.url}${PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
    })
      .then(async (r) => (r.status === 200 ? await r.text() : undefined))
      .catch(() => undefined);
    if (answer?.includes('"label"')) return answer;
    if (Date.now() > deadline || server.child.exitCode !== null)
      throw new Error(
        `http-serving bench: ${server.name} never answered ${PATH}; output:\n${server.output.join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The server's own process: uvicorn is the spawned python; ours is the spawned node. */
async function load(server: Server, connections: number, seconds: number): Promise<Load> {
  const pid = server.child.pid as number;
  const latencies: number[] = [];
  let ok = 0;
  const ticksBefore = cpuTicks(pid);
  const cpuBefore = process.cpuUsage();
  const instance = autocannon({
    url: `${server.url}${PATH}`,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });
  // autocannon's own histogram has 1 ms resolution; its per-response times are fractional ms.
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) {
      ok++;
      latencies.push(ms);
    }
  });
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = (cpuTicks(pid) - ticksBefore) / CLOCK_TICKS / result.duration;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    connections,
    requestsPerSecond: ok / result.duration,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    failed: result.errors + result.timeouts + result.non2xx,
    serverCpu,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / result.duration,
  };
}

async function measure(server: Server, log: (line: string) => void): Promise<Load[]> {
  const runs: Load[] = [];
  for (const connections of CONNECTIONS) {
    await load(server, connections, WARMUP_SECONDS);
    const run = await load(server, connections, RUN_SECONDS);
    log(
      `  ${server.name} ${connections} conn: ${run.requestsPerSecond.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, failed ${run.failed}, server CPU ${(run.serverCpu * 100).toFixed(0)} %, load generator CPU ${(run.generatorCpu * 100).toFixed(0)} %`,
    );
    runs.push(run);
  }
  return runs;
}

/** The platform trains iris with `lr` only, so both sides serve the same kind of pipeline. */
function writeIrisOnlySpecs(specsDir: string): void {
  mkdirSync(specsDir, { recursive: true });
  const spec = JSON.parse(readFileSync(join(ROOT, 'config', 'models', 'iris.json'), 'utf8')) as {
    training: { algorithms: string[]; seed: number };
  };
  spec.training.algorithms = ['lr'];
  writeFileSync(join(specsDir, 'iris.json'), JSON.stringify(spec, null, 2));
}

/** The rows and C the platform's final iris model is fitted with, for the reference to fit the same. */
function writeExperiment(file: string, seed: number): { rows: number; c: number } {
  const spec = DATASETS.iris;
  const run = trainCandidates(loadDataset(spec), { ...trainOptionsFor(spec), algorithms: ['lr'], seed });
  const rows = Array.from(new Int32Array([...run.split.train, ...run.split.validation]).sort());
  const c = Number(run.best.params.C ?? 1);
  writeFileSync(file, JSON.stringify({ csv: join(ROOT, 'training', 'datasets', 'iris.csv'), rows, C: c }));
  return { rows: rows.length, c };
}

function startOurs(outDir: string, port: number, s3Port: number, profileDir?: string): Server {
  const env = {
    PORT: String(port),
    S3_PORT: String(s3Port),
    LOCAL_DATA_DIR: join(outDir, 'data'),
    MODEL_SPECS_DIR: join(outDir, 'specs'),
  };
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  // What `npm start` runs (tsx local/main.ts), without npm and tsx's wrapper process in between.
  return start('ours', process.execPath, ['--import', 'tsx', ...profile, 'local/main.ts'], env, port);
}

/** The floor: bench/http-floor.ts, a bare Node HTTP server answering `answer` (ours, verbatim) to every request. */
function startFloor(port: number, answer: string): Server {
  return start(
    'floor',
    process.execPath,
    ['--import', 'tsx', 'bench/http-floor.ts'],
    { PORT: String(port), FLOOR_ANSWER: answer },
    port,
  );
}

/** Ours, then the floor with ours' answer, one after the other: runs per connection count. */
async function measureOursAndFloor(
  outDir: string,
  log: (line: string) => void,
): Promise<{ ours: Load[]; floor: Load[]; oursAnswer: string }> {
  writeIrisOnlySpecs(join(outDir, 'specs'));
  const ours = startOurs(outDir, await freePort(), await freePort());
  let oursRuns: Load[];
  let oursAnswer: string;
  try {
    oursAnswer = await ready(ours);
    log(`  ours serving: ${oursAnswer}`);
    oursRuns = await measure(ours, log);
  } finally {
    await stop(ours);
  }
  const floorPort = await freePort();
  const floor = startFloor(floorPort, oursAnswer);
  let floorRuns: Load[];
  try {
    await ready(floor);
    floorRuns = await measure(floor, log);
  } finally {
    await stop(floor);
  }
  return { ours: oursRuns, floor: floorRuns, oursAnswer };
}

interface ProfileNode {
  readonly id: number;
  readonly hitCount?: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/**
 * Top self-time functions of a .cpuprofile within [fromUs, toUs], as markdown rows. V8's profile
 * timestamps and process.hrtime are both CLOCK_MONOTONIC on Linux, so this process's clock picks
 * the measured window out of the server's profile (start-up and warm-up left out).
 */
function summariseProfile(
  file: string,
  fromUs: number,
  toUs: number,
  top = 15,
): { rows: string[][]; sampledMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const byNode = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= fromUs && at <= toUs) byNode.set(id, (byNode.get(id) ?? 0) + delta);
  });
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${relative(ROOT, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
    const key = `\`${functionName || '(anonymous)'}\`${where ? ` ${where}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const rows = [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => [name, (us / 1000).toFixed(0), `${((us / total) * 100).toFixed(1)} %`]);
  return { rows, sampledMs: total / 1000 };
}

async function profileOurs(outDir: string, log: (line: string) => void): Promise<string> {
  const profileDir = join(outDir, 'profile');
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const ours = startOurs(outDir, await freePort(), await freePort(), profileDir);
  let window: { from: number; to: number } | undefined;
  try {
    await ready(ours);
    await load(ours, 64, WARMUP_SECONDS);
    const from = Number(process.hrtime.bigint() / 1000n);
    const run = await load(ours, 64, RUN_SECONDS);
    window = { from, to: Number(process.hrtime.bigint() / 1000n) };
    log(`  profiled ours 64 conn: ${run.requestsPerSecond.toFixed(0)} req/s (profiler on)`);
  } finally {
    await stop(ours);
  }
  const file = readdirSync(profileDir).find((f) => f.includes(`.${ours.child.pid}.`) && f.endsWith('.cpuprofile'));
  if (!file || !window) return `_No CPU profile was written to ${relative(ROOT, profileDir)}._`;
  const path = join(profileDir, file);
  const summary = summariseProfile(path, window.from, window.to);
  return [
    `CPU profile of the platform process (\`node --cpu-prof\`) during a ${RUN_SECONDS} s, 64-connection run after a ${WARMUP_SECONDS} s warm-up: top self time within the measured window (${summary.sampledMs.toFixed(0)} ms sampled; start-up and warm-up left out). File: \`${relative(ROOT, path)}\` (open in Chrome DevTools).`,
    '',
    table(['function', 'self ms', 'share'], summary.rows),
  ].join('\n');
}

export async function benchHttpServing(
  outDir: string,
  log: (line: string) => void,
): Promise<{ markdown: string; failures: string[] }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const experimentFile = join(outDir, 'reference-experiment.json');
  const experiment = writeExperiment(experimentFile, 42);
  const python = referencePython();

  const { ours: oursRuns, floor: floorRuns, oursAnswer } = await measureOursAndFloor(outDir, log);

  const port = await freePort();
  const uvicornArgs = [
    '-m',
    'uvicorn',
    'app:app',
    '--app-dir',
    join(ROOT, 'bench', 'http-reference'),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--workers',
    '1',
    '--loop',
    'uvloop',
    '--http',
    'httptools',
    '--log-level',
    'warning',
    '--no-access-log',
  ];
  const reference = start('reference', python, uvicornArgs, { HTTP_REFERENCE_EXPERIMENT: experimentFile }, port);
  let referenceRuns: Load[];
  let referenceAnswer: string;
  try {
    referenceAnswer = await ready(reference);
    log(`  reference serving: ${referenceAnswer}`);
    referenceRuns = await measure(reference, log);
  } finally {
    await stop(reference);
  }
  const versions = execPythonVersions(python);

  const failures: string[] = [];
  const rows = oursRuns.map((o, i) => {
    const r = referenceRuns[i];
    const ratio = o.requestsPerSecond / r.requestsPerSecond;
    if (ratio < TARGET_RATIO)
      failures.push(
        `http-serving ${o.connections} conn: ${o.requestsPerSecond.toFixed(0)} req/s is ${ratio.toFixed(2)}x the reference's ${r.requestsPerSecond.toFixed(0)} (target ${TARGET_RATIO}x; ${((TARGET_RATIO * r.requestsPerSecond) / o.requestsPerSecond).toFixed(2)}x short)`,
      );
    if (o.p99Ms >= r.p99Ms)
      failures.push(
        `http-serving ${o.connections} conn: p99 ${o.p99Ms.toFixed(2)} ms is not below the reference's ${r.p99Ms.toFixed(2)} ms`,
      );
    if (o.p99Ms > TAIL_RATIO * o.p50Ms)
      failures.push(
        `http-serving ${o.connections} conn: ours p99 ${o.p99Ms.toFixed(2)} ms is more than ${TAIL_RATIO}x its p50 ${o.p50Ms.toFixed(2)} ms`,
      );
    const met = (ok: boolean) => (ok ? 'met' : '**missed**');
    return [
      String(o.connections),
      `**${o.requestsPerSecond.toFixed(0)}**`,
      r.requestsPerSecond.toFixed(0),
      `${ratio.toFixed(2)}x (${met(ratio >= TARGET_RATIO)})`,
      o.p50Ms.toFixed(2),
      r.p50Ms.toFixed(2),
      `**${o.p99Ms.toFixed(2)}**`,
      r.p99Ms.toFixed(2),
      `${(o.p99Ms / r.p99Ms).toFixed(2)} (${met(o.p99Ms < r.p99Ms)})`,
      `${(o.p99Ms / o.p50Ms).toFixed(1)} (${met(o.p99Ms <= TAIL_RATIO * o.p50Ms)})`,
      floorRuns[i].requestsPerSecond.toFixed(0),
      `${((o.requestsPerSecond / floorRuns[i].requestsPerSecond) * 100).toFixed(0)} %`,
      floorRuns[i].p99Ms.toFixed(2),
      `${(o.p99Ms / floorRuns[i].p99Ms).toFixed(1)}x`,
      `${o.failed} / ${r.failed}`,
      `${(o.serverCpu * 100).toFixed(0)} / ${(r.serverCpu * 100).toFixed(0)} / ${(Math.max(o.generatorCpu, r.generatorCpu) * 100).toFixed(0)}`,
    ];
  });

  // Always profiled: the 1-connection ratio sits near the target and flips between runs on a small machine.
  const profile = await profileOurs(outDir, log);
  const markdown = `## HTTP serving: the local platform's API vs FastAPI + uvicorn + scikit-learn

**Ours**: the local platform (\`local/main.ts\`, what \`npm start\` runs, started as \`node --import tsx local/main.ts\`
in its own process) on a fresh data folder with one model spec, \`config/models/iris.json\` with
\`training.algorithms: ["lr"]\`; its pipeline trains, registers and promotes the iris champion at first start
(imputer + scaler + logistic regression exported to ONNX), then \`POST ${PATH}\` goes through the local HTTP API
(\`local/http-api.ts\`: the API Gateway v2 event, request metrics), the inference handler and onnxruntime-node.
**Reference**: \`bench/http-reference/app.py\`, FastAPI with a pydantic request model, on uvicorn (1 worker, uvloop,
httptools, \`--log-level warning --no-access-log\`) in \`bench/.venv\` (${versions}), serving a scikit-learn
\`Pipeline(SimpleImputer(mean), StandardScaler(), LogisticRegression(C=${experiment.c}, lbfgs))\` fitted at start-up
on the same ${experiment.rows} rows of \`training/datasets/iris.csv\` as the platform's model (the train + validation rows
of the platform's stratified 60/20/20 split, seed 42, passed to it in a file; C is the platform's grid pick).

Both answer \`${BODY}\` with a 200 and a JSON body holding the label and class probabilities:
ours \`${oursAnswer}\`, reference \`${referenceAnswer}\`.
Load: autocannon in the bench process on loopback, same body, ${CONNECTIONS.join(' / ')} connections, ${WARMUP_SECONDS} s warm-up then ${RUN_SECONDS} s measured,
one server at a time. req/s counts 2xx answers; p50 / p99 are over every 2xx response time autocannon reports
(its own histogram rounds to whole ms). *CPU* is the share of one core used by ours / the reference / the load generator
(the higher of its two runs); a load generator near 100 % means the client, not the server, set the ceiling.
**Floor**: \`bench/http-floor.ts\`, a bare Node \`http\` server in its own process that reads and parses the same body
and answers ours' answer verbatim (no routing, validation, model or metrics): what Node's HTTP stack alone
allows on this machine; *ours / floor* says how much of it the platform keeps.
Target: ours at least ${TARGET_RATIO}x the reference's req/s and a lower p99 at every concurrency, and ours' p99 at most
${TAIL_RATIO}x its p50 (no bursts blocking the event loop).

${table(['connections', 'ours req/s', 'reference req/s', 'ratio (target >= 3x)', 'ours p50 ms', 'reference p50 ms', 'ours p99 ms', 'reference p99 ms', 'p99 ours / reference (target < 1)', 'ours p99 / p50 (target <= 3)', 'floor req/s', 'ours / floor req/s', 'floor p99 ms', 'ours / floor p99', 'failed ours / reference', 'CPU % ours / ref / load gen'], rows)}

${failures.length > 0 ? `Targets missed:\n\n${failures.map((f) => `- ${f}`).join('\n')}` : 'Every target met.'}

### Where ours spends its CPU

${profile}
`;
  return { markdown, failures };
}

function execPythonVersions(python: string): string {
  const script =
    'import importlib.metadata as m, sys; print(", ".join([f"Python {sys.version.split()[0]}"] + [f"{p} {m.version(p)}" for p in ("fastapi", "uvicorn", "pydantic", "scikit-learn", "numpy")]))';
  return existsSync(python) ? execFileSync(python, ['-c', script], { encoding: 'utf8' }).trim() : python;
}
