import type { StoredObject } from '../../core/object-store';
import { createHash } from 'node:crypto';
import { ALGORITHMS as SPEC_ALGORITHMS } from '../../core/pipeline/model-spec';
import { takeWindow } from '../../core/pipeline/window';
import { REFERENCE_RESOURCES } from '../../core/pipeline/training-capacity';
import { chooseTrainingEngine } from '../../core/pipeline/training-engine';
import { TRAINERS } from '../../training/algorithms';
import { sha256Hex as sha256 } from '../../core/hash';
import type { AlgorithmName } from '../../training/algorithms/types';
import { DEFAULT_SEED } from '../../training/train';
import type {
  DataFile,
  DataManifest,
  ExecutionInput,
  PrepareResult,
  ValidationResult,
} from '../../core/pipeline/contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { specFor, type StepDeps } from './deps';
import {
  dataManifestKey,
  isProcessedData,
  processedAt,
  processedPrefix,
  processedReportKey,
  runIdFor,
  snapshotKey,
} from './keys';
import { inBatches } from './batches';
import {
  DataContractError,
  MissingArtifactError,
  NoTrainingDataError,
  TrainingFailedError,
} from '../../core/pipeline/errors';

export type PrepareInput = ExecutionInput & { readonly validation?: ValidationResult };

/** The spec's algorithms (default: all), minus those that cannot train on its declared text features. */
export function algorithmsFor(
  types: Readonly<Record<string, string>> | undefined,
  requested: readonly AlgorithmName[] | undefined,
): AlgorithmName[] {
  const hasText = Object.values(types ?? {}).includes('text');
  return (requested ?? [...SPEC_ALGORITHMS]).filter((a) => !hasText || TRAINERS[a].supportsText);
}

/** Rows of a processed file and rows its upload lost to the contract, from the report beside it (written before the data). */
async function countsOf(deps: StepDeps, key: string): Promise<{ rows: number; dropped: number }> {
  const report = await deps.dataStore.get(processedReportKey(key));
  if (!report) throw new MissingArtifactError(`processed file ${key} has no report (${processedReportKey(key)})`);
  const parsed = JSON.parse(Buffer.from(report.body).toString('utf8')) as {
    rowsKept?: number;
    rowsOut?: number;
    droppedCount?: number;
  };
  return { rows: parsed.rowsKept ?? parsed.rowsOut ?? 0, dropped: parsed.droppedCount ?? 0 };
}

/**
 * Columns a model learns from: the spec's columns, or the header of one of its processed files
 * (every processed file of a model shares it; the object read is handed back so the snapshot does
 * not read it again), minus the label and the excluded ones.
 */
async function featureColumnCount(
  deps: StepDeps,
  spec: ModelSpec,
  someKey: string | undefined,
): Promise<{ count: number; read?: StoredObject }> {
  let columns = spec.data.columns;
  let read: StoredObject | undefined;
  if (!columns && someKey !== undefined) {
    read = await deps.dataStore.get(someKey);
    const text = read ? Buffer.from(read.body.subarray(0, Math.min(read.body.length, 64 * 1024))).toString('utf8') : '';
    columns = text.split('\n', 1)[0].split(',');
  }
  const ignored = new Set([spec.data.label, ...(spec.data.exclude ?? [])]);
  return { count: (columns ?? []).filter((c) => !ignored.has(c)).length, ...(read ? { read } : {}) };
}

/**
 * Processed files joined under one header. Every processed file is written by the data contract
 * (toCsv: one header line, then rows); files whose header differs cannot be one table.
 */
class Snapshot {
  private header: { key: string; line: string } | undefined;
  private readonly bodies = new Map<string, string>();

  add(key: string, body: Uint8Array): void {
    const text = Buffer.from(body).toString('utf8');
    const end = text.indexOf('\n');
    const line = end < 0 ? text : text.slice(0, end);
    this.header ??= { key, line };
    if (line !== this.header.line) {
      throw new DataContractError(
        `${key} has the columns "${line}", but ${this.header.key} has "${this.header.line}": processed files of one model must share their columns`,
      );
    }
    const rows = end < 0 ? '' : text.slice(end + 1);
    this.bodies.set(key, rows === '' || rows.endsWith('\n') ? rows : `${rows}\n`);
  }

  /** The header, then each file's rows in the given order. */
  text(order: readonly string[]): string {
    return `${this.header?.line ?? ''}\n${order.map((key) => this.bodies.get(key) ?? '').join('')}`;
  }
}

/**
 * Snapshots the training data: the processed/<model>/*.csv files inside the spec's window (all of
 * them by default), in time order, each with its sha256 and rows, written to
 * runs/<model>/<runId>/data.json. The execution state carries only that object's key, so it stays
 * the same size however many files a model has. The run id is the execution name, so a retried
 * step writes to the same runs/ folder.
 */
export async function prepare(input: PrepareInput, deps: StepDeps): Promise<PrepareResult> {
  const spec = specFor(deps, input.model);
  const runId = runIdFor(input.execution);
  const keys = (await deps.dataStore.list(processedPrefix(input.model))).filter(isProcessedData).sort();
  if (keys.length === 0) {
    throw new NoTrainingDataError(
      `no training data for model "${input.model}": processed/${input.model}/ holds no .csv files (upload to incoming/${input.model}/)`,
    );
  }
  const now = deps.clock();
  const window = spec.training.window;
  const candidates = keys.map((key) => ({ key, processedAt: processedAt(key) ?? new Date(0) }));
  const dropped = new Map<string, number>();
  const chosen = await takeWindow(candidates, window, now, async (f) => {
    const counts = await countsOf(deps, f.key);
    dropped.set(f.key, counts.dropped);
    return counts.rows;
  });
  const algorithms = algorithmsFor(spec.data.types, spec.training.algorithms);
  if (algorithms.length === 0)
    throw new TrainingFailedError(`none of the algorithms of model "${input.model}" can train on its text features`);
  const rows = chosen.reduce((sum, c) => sum + c.rows, 0);
  const first = chosen[0]?.file.key;
  const featureColumns = await featureColumnCount(deps, spec, first);
  // Throws DatasetTooLargeError when no engine this deployment has can train the data.
  const engine = chooseTrainingEngine({
    model: input.model,
    size: { rows, featureColumns: featureColumns.count },
    algorithms,
    requested: spec.training.engine,
    lambda: deps.resources ?? REFERENCE_RESOURCES,
    managed: deps.managedResources,
  });
  const snapshot = new Snapshot();
  const files: DataFile[] = await inBatches(chosen, 16, async ({ file, rows }) => {
    const object = file.key === first && featureColumns.read ? featureColumns.read : await deps.dataStore.get(file.key);
    if (!object) throw new MissingArtifactError(`data file ${file.key} disappeared while preparing the run`);
    snapshot.add(file.key, object.body);
    return {
      key: file.key,
      sha256: sha256(object.body),
      rows,
      bytes: object.body.length,
      processedAt: file.processedAt.toISOString(),
      droppedByContract: dropped.get(file.key) ?? 0,
    };
  });
  const dataSnapshotKey = snapshotKey(input.model, runId);
  await deps.modelStore.put(dataSnapshotKey, snapshot.text(files.map((f) => f.key)), { contentType: 'text/csv' });
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.key}\n${f.sha256}\n`);
  const manifest: DataManifest = {
    model: input.model,
    runId,
    createdAt: now.toISOString(),
    ...(window ? { window } : {}),
    availableFiles: keys.length,
    files,
    sha256: hash.digest('hex'),
    snapshotKey: dataSnapshotKey,
  };
  const manifestKey = dataManifestKey(input.model, runId);
  await deps.modelStore.put(manifestKey, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
  return {
    runId,
    dataManifestKey: manifestKey,
    dataSha256: manifest.sha256,
    files: files.length,
    rows: files.reduce((sum, f) => sum + f.rows, 0),
    algorithms,
    seed: spec.training.seed ?? DEFAULT_SEED,
    engine: engine.engine,
    engineReason: engine.reason,
  };
}

/** The data manifest a run's Prepare wrote. */
export async function readDataManifest(deps: StepDeps, key: string): Promise<DataManifest> {
  const object = await deps.modelStore.get(key);
  if (!object) throw new MissingArtifactError(`the run's data manifest ${key} does not exist`);
  return JSON.parse(Buffer.from(object.body).toString('utf8')) as DataManifest;
}
