/**
 * One cold start, in a fresh `node` process (compiled by bench/cold-start.ts with esbuild and
 * run with plain node, as Lambda runs the bundled handler):
 *
 *   node child.js <bundled handler.js> <API Gateway event JSON>
 *
 * Prints one JSON line of timings (ms), last on stdout (after the function's own EMF metric
 * lines, which the parent reads ModelLoadTime from): boot (node start until this script runs), import (the
 * handler module: config, SDK clients, Powertools), first (the first request: resolve the
 * champion in S3, fetch manifest and model.onnx, sha256, create the session, smoke and real
 * prediction) and second (the same request again, warm).
 */

interface HandlerModule {
  handler(event: unknown): Promise<{ statusCode?: number; body?: string }>;
}

async function main(): Promise<void> {
  const boot = performance.now();
  const [handlerPath, eventJson] = process.argv.slice(2);
  if (!handlerPath || !eventJson) throw new Error('usage: node child.js <handler.js> <event JSON>');
  const event: unknown = JSON.parse(eventJson);

  const importStart = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time, loaded the way Lambda loads a CommonJS handler
  const mod = require(handlerPath) as HandlerModule;
  const importMs = performance.now() - importStart;

  const firstStart = performance.now();
  const first = await mod.handler(event);
  const firstMs = performance.now() - firstStart;

  const secondStart = performance.now();
  const second = await mod.handler(event);
  const secondMs = performance.now() - secondStart;

  if (first.statusCode !== 200 || second.statusCode !== 200)
    throw new Error(`status ${first.statusCode}/${second.statusCode}: ${first.body ?? ''}`);
  process.stdout.write(`${JSON.stringify({ bootMs: boot, importMs, firstMs, secondMs })}\n`);
}

main().then(
  // The SDK's keep-alive sockets would hold the process open; a Lambda process is frozen instead.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
