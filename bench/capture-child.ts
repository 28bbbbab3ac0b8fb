import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ModelManifest } from '../core/manifest';
import { CAPTURE_KIND } from '../core/monitoring/contract';
import { toPredictions } from '../lambdas/inference/backends/types';
import { buildInferenceApp } from '../lambdas/inference/build-app';
import { type CaptureSink, stdoutSink } from '../lambdas/inference/capture';
import { CONFIG_DEFAULTS, loadConfig } from '../lambdas/inference/config';
import { instanceValidator, parseEnvelope } from '../lambdas/inference/request';
import { apiGatewayEvent } from '../local/api-gateway-event';

/**
 * The measuring side of `npm run bench -- capture` (bench/capture.ts bundles it with esbuild and
 * runs it with plain node, as Lambda runs the bundled function). Its stdout is a pipe the parent
 * drains, as the Lambda runtime reads a function's stdout: the capture sink writes there with
 * process.stdout.write like stdoutCaptureSink, and so do Powertools' EMF metrics when enabled.
 * The parent sends a CaptureChildJob over IPC and receives a CaptureChildResult the same way
 * (stdout carries only what the function would print).
 */

type Row = Record<string, string | number | null>;

export interface CaptureChildJob {
  readonly modelBucket: string;
  readonly endpoint: string;
  readonly models: readonly {
    readonly dataset: string;
    readonly manifest: ModelManifest;
    readonly rows: readonly Row[];
  }[];
  readonly runs: readonly { readonly rows: number; readonly warmup: number; readonly iterations: number }[];
  /** Serialisations of one request's records per JSON.stringify measurement, by rows per request. */
  readonly stringifyCalls: Readonly<Record<number, number>>;
}

/** Capture off; on with the lines dropped (model names ending -nowrite); on, written to stdout. */
export const SETUPS = ['off', 'nowrite', 'on'] as const;
export type Setup = (typeof SETUPS)[number];

export interface RunResult {
  readonly dataset: string;
  readonly rows: number;
  /** Microseconds per invocation (app.handle) per setup, in request order: index i of each is the same rows, sent back to back. */
  readonly invocations: Readonly<Record<Setup, readonly number[]>>;
  /** The same, until the work the request deferred (the capture write) is done too: what the function is busy (billed). */
  readonly busy: Readonly<Record<Setup, readonly number[]>>;
  /** Microseconds of each capture write to stdout in the timed requests, ascending. */
  readonly writes: readonly number[];
  /** Characters of capture per request. */
  readonly chars: number;
  /** Serialising one request's records alone, µs: as Capture.record does, from ordinary objects, and hand-built lines. */
  readonly stringify: { readonly asBuilt: number; readonly plainObjects: number; readonly handBuilt: number };
}

export interface CaptureChildResult {
  readonly results: readonly RunResult[];
  /** Capture lines this process wrote to stdout, for the parent to check against what it read. */
  readonly captureLines: number;
  /** Requests answered (each writes its metrics to stdout when Powertools metrics are on). */
  readonly requests: number;
}

const event = (model: string, body: unknown): APIGatewayProxyEventV2 =>
  apiGatewayEvent({
    method: 'POST',
    path: `/models/${model}/predict`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const bodyFor = (rows: readonly Row[], size: number, i: number) =>
  size === 1
    ? { features: rows[i % rows.length] }
    : { instances: Array.from({ length: size }, (_, k) => rows[(i * 7 + k) % rows.length]) };

/** stdoutCaptureSink (its queue and deferred write), the write timed; -nowrite models' lines are dropped. */
class TimedStdoutSink implements CaptureSink {
  writes: number[] = [];
  chars = 0;
  /** Every capture line written to stdout, warmup included: what the parent must read back. */
  lines = 0;
  private readonly inner = stdoutSink((text) => {
    const start = process.hrtime.bigint();
    process.stdout.write(text);
    this.writes.push(Number(process.hrtime.bigint() - start) / 1000);
    this.chars += text.length;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.lines++;
  });

  write(model: string, lines: string): void {
    if (!model.endsWith('-nowrite')) this.inner.write(model, lines);
  }
}

/**
 * Serialising one request's records alone, as Capture.record does (an object per record, one
 * JSON.stringify each) over the feature rows and probabilities the app makes (null-prototype
 * objects, so a feature or class named "__proto__" is a plain key); over the same values in
 * ordinary objects; and as hand-built lines (shared fields once, JSON.stringify of the parts).
 */
function stringifyCost(
  dataset: string,
  manifest: ModelManifest,
  body: unknown,
  probabilities: number[][],
  calls: number,
): RunResult['stringify'] {
  const limits = {
    maxBatch: CONFIG_DEFAULTS.maxBatch,
    maxBodyBytes: CONFIG_DEFAULTS.maxBodyBytes,
    maxTextChars: CONFIG_DEFAULTS.maxTextChars,
  };
  const envelope = parseEnvelope(body, limits.maxBatch);
  const rows =
    envelope.ok && envelope.value.form !== 'columns'
      ? instanceValidator(manifest.features, limits)(envelope.value)
      : undefined;
  if (!rows?.ok) throw new Error(`${dataset}: the bench request does not validate`);
  const predictions = toPredictions(manifest.classes, probabilities);
  const time = new Date().toISOString();
  const lines = (features: readonly object[], probs: readonly object[]) => {
    let text = '';
    for (let i = 0; i < features.length; i++) {
      text += `${JSON.stringify({ kind: CAPTURE_KIND, inferenceId: `0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.${i}`, time, model: dataset, version: 1, variant: 'champion', features: features[i], label: predictions[i].label, probabilities: probs[i], latencyMs: 0.42 })}\n`;
    }
    return text;
  };
  // The same line with the request's shared fields serialised once and the rest spliced in.
  const handBuilt = (features: readonly object[], probs: readonly object[]) => {
    const head = `{"kind":"${CAPTURE_KIND}","time":"${time}","model":${JSON.stringify(dataset)},"version":1,"variant":"champion","latencyMs":0.42,"inferenceId":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.`;
    let text = '';
    for (let i = 0; i < features.length; i++) {
      text += `${head}${i}","features":${JSON.stringify(features[i])},"label":${JSON.stringify(predictions[i].label)},"probabilities":${JSON.stringify(probs[i])}}\n`;
    }
    return text;
  };
  const run = (serialise: typeof lines, features: readonly object[], probs: readonly object[]) => {
    let length = 0;
    for (let i = 0; i < calls; i++) length += serialise(features, probs).length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) length += serialise(features, probs).length;
    const us = Number(process.hrtime.bigint() - start) / 1000 / calls;
    if (length === 0) throw new Error('nothing serialised');
    return us;
  };
  const probs = predictions.map((p) => p.probabilities);
  return {
    asBuilt: run(lines, rows.value, probs),
    plainObjects: run(
      lines,
      rows.value.map((r) => ({ ...r })),
      predictions.map((p) => ({ ...p.probabilities })),
    ),
    handBuilt: run(handBuilt, rows.value, probs),
  };
}

async function runJob(job: CaptureChildJob): Promise<CaptureChildResult> {
  const sink = new TimedStdoutSink();
  const on = { enabled: true, sampleRate: 1, retentionDays: 30 };
  const settings = Object.fromEntries(
    job.models.flatMap((m) =>
      SETUPS.map((setup) => [`${m.dataset}-${setup}`, setup === 'off' ? { ...on, enabled: false } : on]),
    ),
  );
  const app = buildInferenceApp(
    loadConfig({
      ...process.env,
      MODEL_BUCKET: job.modelBucket,
      AWS_ENDPOINT_URL: job.endpoint,
      CAPTURE_SETTINGS: JSON.stringify(settings),
    }),
    { captureSink: sink },
  );
  const results: RunResult[] = [];
  let requests = 0;
  for (const model of job.models) {
    for (const run of job.runs) {
      const invocations: Record<Setup, number[]> = { off: [], nowrite: [], on: [] };
      const busy: Record<Setup, number[]> = { off: [], nowrite: [], on: [] };
      for (let i = 0; i < run.warmup + run.iterations; i++) {
        if (i === run.warmup) {
          sink.writes = [];
          sink.chars = 0;
        }
        // The three in turn, rotating the order, so drift in the machine's load falls on all alike.
        for (let j = 0; j < SETUPS.length; j++) {
          const setup = SETUPS[(i + j) % SETUPS.length];
          const request = event(`${model.dataset}-${setup}`, bodyFor(model.rows, run.rows, i));
          const start = process.hrtime.bigint();
          const res = await app.handle(request);
          const elapsed = process.hrtime.bigint() - start;
          // The capture write is deferred to a setImmediate: wait for it here, so its cost falls on
          // the request that queued it (busy) and not on the next one.
          await new Promise((resolve) => setImmediate(resolve));
          const done = process.hrtime.bigint() - start;
          if (res.statusCode !== 200)
            throw new Error(`${request.rawPath}: status ${res.statusCode}: ${res.body ?? ''}`);
          requests++;
          if (i >= run.warmup) {
            invocations[setup].push(Number(elapsed) / 1000);
            busy[setup].push(Number(done) / 1000);
          }
        }
      }
      const body = bodyFor(model.rows, run.rows, 0);
      const answer = JSON.parse((await app.handle(event(`${model.dataset}-off`, body))).body ?? '{}') as {
        predictions: { probabilities: Record<string, number> }[];
      };
      const probabilities = answer.predictions.map((p) => model.manifest.classes.map((c) => p.probabilities[c]));
      results.push({
        dataset: model.dataset,
        rows: run.rows,
        invocations,
        busy,
        writes: [...sink.writes].sort((a, b) => a - b),
        chars: sink.chars / run.iterations,
        stringify: stringifyCost(
          model.dataset,
          model.manifest,
          body,
          probabilities,
          job.stringifyCalls[run.rows] ?? 100,
        ),
      });
    }
  }
  return { results, captureLines: sink.lines, requests };
}

process.once('message', (job: CaptureChildJob) => {
  runJob(job).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
});
