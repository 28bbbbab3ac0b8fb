import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { type ObjectStore, PreconditionFailedError, type PutCondition, type StoredObject } from '../core/object-store';
import type { DataManifest, TrainItem } from '../core/pipeline/contract';
import { parseModelSpec } from '../core/pipeline/model-spec';
import { ModelRegistry } from '../core/registry/registry';
import type { StepDeps } from '../lambdas/pipeline/deps';
import { dataManifestKey, processedKey, snapshotKey } from '../lambdas/pipeline/keys';
import { train } from '../lambdas/pipeline/train';
import { GENERATED_COLUMNS, GENERATED_FEATURES, GENERATED_LABEL } from './generated-data';

/**
 * One training-capacity measurement in a fresh process (bench/training-capacity.ts bundles this
 * file and runs it with plain `node --max-old-space-size=<N>`):
 *
 *   node training-capacity-child.js <algorithm> <rows> <csv> <tmpDir>
 *
 * The CSV (bench/generated-data.ts) is laid out the way the pipeline's Prepare leaves a run's
 * data: a processed/ file in the data bucket, its snapshot runs/<model>/<run>/data.csv and the
 * manifest runs/<model>/<run>/data.json in the model bucket. Then it calls the real
 * `train(item, deps)`, as the Lambda handler does for one Map item, and prints one JSON line:
 * wall and CPU seconds of train(), peak RSS, the snapshot's bytes and the candidate's scores.
 */

const MODEL = 'capacity';
const RUN_ID = 'capacity-run';
const SEED = 42;

/** One stored object: its ETag and how to read its bytes (a copy per get, as a download would be). */
interface Entry {
  readonly etag: string;
  readonly read: () => Uint8Array;
}

/**
 * The ObjectStore port over a Map, with S3's semantics (conditional writes, sorted listings,
 * "folders"). An object can also be backed by a file (putFile): each get reads it anew, so the
 * snapshot is not held in memory for the whole run, just as the function holds it only between
 * the S3 download and the write to /tmp.
 */
class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Entry>();

  async get(key: string): Promise<StoredObject | undefined> {
    const entry = this.objects.get(key);
    return entry ? { body: entry.read(), etag: entry.etag } : undefined;
  }

  async getIfChanged(key: string, etag: string): Promise<StoredObject | 'unchanged' | undefined> {
    const entry = this.objects.get(key);
    if (!entry) return undefined;
    return entry.etag === etag ? 'unchanged' : { body: entry.read(), etag: entry.etag };
  }

  async put(
    key: string,
    body: Uint8Array | string,
    options: { readonly condition?: PutCondition; readonly contentType?: string } = {},
  ): Promise<{ etag: string }> {
    this.check(key, options.condition);
    const bytes = typeof body === 'string' ? new Uint8Array(Buffer.from(body, 'utf8')) : Uint8Array.from(body);
    const etag = createHash('md5').update(bytes).digest('hex');
    this.objects.set(key, { etag, read: () => Uint8Array.from(bytes) });
    return { etag };
  }

  /** Stores `path`'s current content under `key`, read from disk on every get. */
  putFile(key: string, path: string, etag: string): void {
    this.objects.set(key, { etag, read: () => new Uint8Array(readFileSync(path)) });
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const names = new Set<string>();
    for (const key of this.objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const slash = key.indexOf('/', prefix.length);
      if (slash >= 0) names.add(key.slice(prefix.length, slash));
    }
    return [...names].sort();
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  bytes(key: string): number {
    return this.objects.get(key)?.read().length ?? 0;
  }

  private check(key: string, condition: PutCondition | undefined): void {
    if (!condition) return;
    const current = this.objects.get(key);
    if ('ifNoneMatch' in condition ? current !== undefined : current?.etag !== condition.ifMatch)
      throw new PreconditionFailedError(key);
  }
}

/** Every operation fails: train() must not touch the registry (nor a store the registry would use). */
class UnusedStore implements ObjectStore {
  private fail(operation: string): never {
    throw new Error(`training-capacity: train() used the registry (${operation}); the bench gives it none`);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.fail(`get ${key}`);
  }

  async getIfChanged(key: string): Promise<StoredObject | 'unchanged' | undefined> {
    return this.fail(`getIfChanged ${key}`);
  }

  async put(key: string): Promise<{ etag: string }> {
    return this.fail(`put ${key}`);
  }

  async list(prefix: string): Promise<string[]> {
    return this.fail(`list ${prefix}`);
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    return this.fail(`listPrefixes ${prefix}`);
  }

  async delete(key: string): Promise<void> {
    this.fail(`delete ${key}`);
  }
}

/** md5 (the ETag) and sha256 of a file, read in 4 MB pieces. */
function digests(path: string): { md5: string; sha256: string; bytes: number } {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  const buffer = Buffer.alloc(4 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
      md5.update(buffer.subarray(0, n));
      sha256.update(buffer.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), bytes };
}

function specJson(algorithm: string): string {
  const features = GENERATED_COLUMNS.filter((c) => c !== GENERATED_LABEL);
  return JSON.stringify({
    name: MODEL,
    data: {
      delimiter: ',',
      label: GENERATED_LABEL,
      types: Object.fromEntries(features.map((c) => [c, c === 'type' ? 'categorical' : 'numeric'])),
    },
    contract: { labelValues: ['0', '1'], minRows: 1000, onBadRow: 'drop' },
    training: { algorithms: [algorithm], seed: SEED, selectionMetric: 'macroF1' },
    gate: { metric: 'macroF1', margin: 0.005, floor: 0.5 },
  });
}

async function main(args: readonly string[]): Promise<void> {
  const [algorithm, rowsArg, csv, tmpDir] = args;
  const rows = Number(rowsArg);
  if (!algorithm || !Number.isInteger(rows) || rows < 1 || !csv || !tmpDir) {
    throw new Error('usage: training-capacity-child <algorithm> <rows> <csv> <tmpDir>');
  }
  const spec = parseModelSpec(specJson(algorithm), 'training-capacity spec');
  const rssBeforeKiB = Math.round(process.memoryUsage.rss() / 1024);

  // What Validate and Prepare leave behind for one clean upload.
  const dataStore = new MemoryObjectStore();
  const modelStore = new MemoryObjectStore();
  const file = digests(csv);
  const at = new Date('2026-12-01T00:00:00Z');
  const processed = processedKey(MODEL, 'generated.csv', file.md5, at);
  dataStore.putFile(processed, csv, file.md5);
  // One file: Prepare's snapshot (its header, then its rows) is byte for byte the processed file.
  const snapshot = snapshotKey(MODEL, RUN_ID);
  modelStore.putFile(snapshot, csv, file.md5);
  const manifest: DataManifest = {
    model: MODEL,
    runId: RUN_ID,
    createdAt: at.toISOString(),
    availableFiles: 1,
    files: [
      {
        key: processed,
        sha256: file.sha256,
        rows,
        bytes: file.bytes,
        processedAt: at.toISOString(),
        droppedByContract: 0,
      },
    ],
    sha256: createHash('sha256').update(`${processed}\n${file.sha256}\n`).digest('hex'),
    snapshotKey: snapshot,
  };
  const manifestKey = dataManifestKey(MODEL, RUN_ID);
  await modelStore.put(manifestKey, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });

  const unused = new UnusedStore();
  mkdirSync(tmpDir, { recursive: true });
  const deps: StepDeps = {
    dataStore,
    modelStore,
    registry: new ModelRegistry(unused, {
      validate: () => Promise.reject(new Error('training-capacity: train() validated a model through the registry')),
    }),
    specs: new Map([[MODEL, spec]]),
    clock: () => new Date(),
    tmpDir,
    dataBucket: 'capacity-data',
  };
  const item: TrainItem = { model: MODEL, runId: RUN_ID, dataManifestKey: manifestKey, seed: SEED, algorithm };

  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const result = await train(item, deps);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const usage = process.resourceUsage();
  rmSync(tmpDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      algorithm,
      rows,
      cells: rows * GENERATED_FEATURES,
      seconds,
      fitSeconds: result.fitSeconds,
      maxRssKiB: usage.maxRSS,
      rssBeforeKiB,
      // User + system time of every thread (main, GC helpers, onnxruntime) during train().
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      snapshotBytes: file.bytes,
      onnxBytes: modelStore.bytes(`${result.candidatePrefix}model.onnx`),
      params: result.params,
      selection: result.selection,
      validation: result.validation,
      holdout: result.holdout,
      warnings: result.warnings,
    }),
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
