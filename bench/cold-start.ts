import { execFile } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type BuildOptions, buildSync } from 'esbuild';
import { PLATFORM_ESBUILD } from '../lib/constructs/platform-function';
import { table } from './markdown';

/**
 * Cold starts of the inference function: the handler is bundled once with esbuild (as CDK does
 * for the deployed function) and each cold start is a new plain `node` process (no tsx) running
 * bench/cold-start-child.ts against the local S3 server.
 */

const ROOT = join(__dirname, '..');
export const HANDLER_ENTRY = join(ROOT, 'lambdas', 'inference', 'handler.ts');
const CHILD_ENTRY = join(__dirname, 'cold-start-child.ts');
const run = promisify(execFile);

export interface ColdStartTarget {
  /** What the row is called in the table (the model). */
  readonly label: string;
  /** The first request the new process answers. */
  readonly event: APIGatewayProxyEventV2;
}

export interface ColdStartOptions {
  /** Where the bundles are written (bench/out/...). */
  readonly outDir: string;
  /** The function's environment (MODEL_BUCKET, AWS_ENDPOINT_URL, credentials, Powertools switches). */
  readonly env: Readonly<Record<string, string>>;
  readonly targets: readonly ColdStartTarget[];
  /** Recorded runs per target (after one unrecorded run). */
  readonly runs: number;
  readonly log: (line: string) => void;
}

interface Sample {
  readonly bootMs: number;
  readonly importMs: number;
  readonly firstMs: number;
  readonly secondMs: number;
  /** The function's ModelLoadTime metric (manifest + model.onnx fetch, sha256, session, smoke prediction). */
  readonly loadMs: number;
  /** Spawn to exit, seen from the parent. */
  readonly wallMs: number;
}

interface Variant {
  readonly name: string;
  readonly description: string;
  readonly external: readonly string[];
  /** Targets measured with this bundle (all when absent). */
  readonly only?: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { name: 'handler.js', description: 'everything bundled except onnxruntime-node', external: ['onnxruntime-node'] },
  {
    name: 'handler-sdk-external.js',
    description: 'as deployed, @aws-sdk/* external too: Lambda provides it, here it loads from node_modules',
    external: ['onnxruntime-node', ...PLATFORM_ESBUILD.externalModules],
    only: ['iris'],
  },
];

/**
 * Bundles a handler as the deployed functions are (CommonJS, PLATFORM_ESBUILD's source map and
 * main fields from lib/constructs/platform-function.ts, so the two cannot drift), for Node 20
 * here (Lambda's is 24; the code esbuild emits is the same); `external` as given.
 */
export function bundleLikeDeployed(entry: string, outfile: string, external: readonly string[]): void {
  const deployed: BuildOptions = {
    sourcemap: PLATFORM_ESBUILD.sourceMap,
    sourcesContent: PLATFORM_ESBUILD.sourcesContent,
    mainFields: [...PLATFORM_ESBUILD.mainFields],
  };
  buildSync({
    ...deployed,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: [...external],
    logLevel: 'error',
  });
}

/** Nearest-rank quantile of ascending values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const median = (values: readonly number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const ms = (v: number) => v.toFixed(0);

function bundle(outDir: string, variant: Variant): { file: string; bytes: number } {
  const file = join(outDir, variant.name);
  bundleLikeDeployed(HANDLER_ENTRY, file, variant.external);
  return { file, bytes: statSync(file).size };
}

/** ModelLoadTime from the Embedded Metric Format lines Powertools printed (one per metric). */
function modelLoadTime(lines: readonly string[]): number {
  for (const line of lines) {
    if (!line.startsWith('{') || !line.includes('"ModelLoadTime"')) continue;
    const value = (JSON.parse(line) as Record<string, unknown>).ModelLoadTime;
    if (typeof value === 'number') return value;
  }
  throw new Error('the child printed no ModelLoadTime metric');
}

async function coldStart(
  child: string,
  handler: string,
  event: APIGatewayProxyEventV2,
  env: Readonly<Record<string, string>>,
): Promise<Sample> {
  const start = performance.now();
  // Asynchronous: the S3 server the child talks to runs on this process's event loop.
  const { stdout } = await run(process.execPath, [child, handler, JSON.stringify(event)], {
    // Metrics on (EMF lines on stdout, as in Lambda): ModelLoadTime splits the first request.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...env,
      POWERTOOLS_METRICS_DISABLED: 'false',
      NODE_OPTIONS: '--enable-source-maps',
    },
    timeout: 60_000,
  });
  const wallMs = performance.now() - start;
  const lines = stdout.trim().split('\n');
  const sample = JSON.parse(lines.at(-1) ?? '') as Omit<Sample, 'wallMs' | 'loadMs'>;
  return { ...sample, loadMs: modelLoadTime(lines), wallMs };
}

export interface ColdStartResult {
  readonly markdown: string;
  readonly summary: string[];
  /** Rows over the cold-start target. */
  readonly failures: string[];
}

/** The issue's target: a new process's import + first prediction (model fetched from S3) under 400 ms. */
const COLD_START_TARGET_MS = 400;

export async function benchColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  mkdirSync(options.outDir, { recursive: true });
  const child = join(options.outDir, 'cold-start-child.js');
  buildSync({
    entryPoints: [CHILD_ENTRY],
    outfile: child,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'error',
  });

  const rows: string[][] = [];
  const summary: string[] = [];
  const sizes: string[] = [];
  const failures: string[] = [];
  for (const variant of VARIANTS) {
    const { file, bytes } = bundle(options.outDir, variant);
    sizes.push(`\`${variant.name}\` ${(bytes / 1024).toFixed(0)} KB (${variant.description})`);
    for (const target of options.targets.filter((t) => !variant.only || variant.only.includes(t.label))) {
      await coldStart(child, file, target.event, options.env); // unrecorded: warms the OS file cache
      const samples: Sample[] = [];
      for (let i = 0; i < options.runs; i++) samples.push(await coldStart(child, file, target.event, options.env));
      const totals = samples.map((s) => s.importMs + s.firstMs).sort((a, b) => a - b);
      const med = (pick: (s: Sample) => number) => median(samples.map(pick));
      rows.push([
        target.label,
        `\`${variant.name}\``,
        String(samples.length),
        ms(med((s) => s.bootMs)),
        ms(med((s) => s.importMs)),
        ms(med((s) => s.firstMs)),
        ms(med((s) => s.loadMs)),
        `**${ms(quantile(totals, 0.5))}**`,
        ms(totals[totals.length - 1]),
        med((s) => s.secondMs).toFixed(1),
        ms(med((s) => s.wallMs)),
      ]);
      const total = quantile(totals, 0.5);
      if (total >= COLD_START_TARGET_MS)
        failures.push(
          `cold start ${target.label} (${variant.name}): import + first request median ${ms(total)} ms, target under ${COLD_START_TARGET_MS} ms (${ms(total - COLD_START_TARGET_MS)} ms over)`,
        );
      const line = `cold start ${target.label} (${variant.name}): import + first request median ${ms(quantile(totals, 0.5))} ms, max ${ms(totals[totals.length - 1])} ms (import ${ms(med((s) => s.importMs))} + first request ${ms(med((s) => s.firstMs))} of which model load ${ms(med((s) => s.loadMs))}; node boot ${ms(med((s) => s.bootMs))})`;
      summary.push(line);
      options.log(line);
    }
  }

  const markdown = `### Cold start

Each run is a new \`node\` process (plain Node, no tsx): the handler is bundled once with esbuild the
way CDK bundles the function (\`bundleLikeDeployed\`: CommonJS, Node 20 target, the esbuild settings of \`PLATFORM_ESBUILD\` in \`lib/constructs/platform-function.ts\`: source map without embedded sources, \`mainFields\` ${PLATFORM_ESBUILD.mainFields.join(', ')}; \`NODE_OPTIONS=--enable-source-maps\`;
onnxruntime-node loaded from node_modules, as the function ships it), and a tiny child
(\`bench/cold-start-child.ts\`, compiled the same way) requires it and sends one predict request.
*Import* is the \`require\` of the handler module (config from the environment, SDK clients,
Powertools, onnxruntime-node's native binding): Lambda's init phase. *First request* resolves
\`champion\` in the local S3 server, fetches manifest and model.onnx, checks the sha256, creates the
onnxruntime session, runs the smoke prediction and answers: what the first invocation pays;
*model load* is the function's own ModelLoadTime metric within it (manifest + model.onnx fetch,
sha256, session, smoke prediction), read from the EMF lines the child prints (metrics on here).
*Node boot* is the time before the child's first line runs (Lambda's runtime bootstrap differs).
One unrecorded run per row first warms the OS file cache; ${options.runs} recorded runs per row.
S3 is local here (no TLS, no network latency), so the S3 part is a lower bound for AWS.
Bundles: ${sizes.join('; ')}.

${table(['model', 'bundle', 'runs', 'node boot ms', 'import ms', 'first request ms', 'of which model load ms', 'import + first, median ms', 'max ms', 'second request ms', 'process wall ms'], rows)}

Medians per column (the max is of import + first request). Target: import + first request under ${COLD_START_TARGET_MS} ms.
${failures.length > 0 ? `Missed:\n\n${failures.map((f) => `- ${f}`).join('\n')}\n\nThe import column (Lambda's init phase: config, SDK clients, Powertools, onnxruntime's native binding) is the larger part, the first request (S3 fetch, sha256, session) the smaller. Which modules the import spends its time in is not profiled yet: that is the next step.` : 'Every row met the target.'}`;
  return { markdown, summary, failures };
}
