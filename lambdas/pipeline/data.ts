import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROCESSED_LOAD_OPTIONS } from '../../core/pipeline/data-contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import type { TypedTable } from '../../core/data/columns';
import { loadColumns } from '../../core/data/load-columns';
import type { TrainOptions } from '../../training/train';
import type { AlgorithmName } from '../../training/algorithms/types';
import type { DataManifest } from '../../core/pipeline/contract';
import type { StepDeps } from './deps';
import { DataContractError, MissingArtifactError } from '../../core/pipeline/errors';

/**
 * The run's training data as one table of typed columns (core/data/load-columns.ts): the snapshot
 * Prepare wrote (runs/<model>/<runId>/data.csv), read once, straight into columns, as the training
 * CLI reads its files: a 1M-row run holds its columns, not a string per cell. Each row's origin names
 * the processed file it came from (row ranges from data.json), and the sources are the processed
 * files' S3 URIs, so manifests say where the data lives.
 *
 * `digestExclude` (the spec's excluded columns) hashes each row's split key while its text is at
 * hand, as the CLI does for training; without it, the split is drawn from whole digests computed
 * from the columns, which Evaluate needs anyway (the comparison rows are recorded by digest).
 */
export async function loadRunData(
  deps: StepDeps,
  data: DataManifest,
  options: { readonly digestExclude?: readonly string[] } = {},
): Promise<TypedTable> {
  const object = await deps.modelStore.get(data.snapshotKey);
  if (!object) throw new MissingArtifactError(`the run's data snapshot ${data.snapshotKey} does not exist`);
  mkdirSync(deps.tmpDir, { recursive: true });
  const dir = mkdtempSync(join(deps.tmpDir, 'pipeline-data-'));
  let table: TypedTable;
  try {
    const path = join(dir, 'data.csv');
    writeFileSync(path, object.body);
    table = loadColumns([path], {
      ...PROCESSED_LOAD_OPTIONS,
      ...(options.digestExclude ? { digestExclude: options.digestExclude } : {}),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const expected = data.files.reduce((sum, f) => sum + f.rows, 0);
  if (table.rows !== expected) {
    throw new DataContractError(
      `the run's data snapshot ${data.snapshotKey} holds ${table.rows} rows, but its files' reports add up to ${expected}`,
    );
  }
  const origin = { file: new Int32Array(table.rows), line: new Int32Array(table.rows) };
  let row = 0;
  data.files.forEach((file, index) => {
    for (let line = 2; line < file.rows + 2; line++, row++) {
      origin.file[row] = index;
      origin.line[row] = line;
    }
  });
  const uri = (key: string) => (deps.dataBucket ? `s3://${deps.dataBucket}/${key}` : key);
  const sources = data.files.map((f) => ({ uri: uri(f.key), sha256: f.sha256, bytes: f.bytes, rows: f.rows }));
  return { ...table, origin, sources };
}

/** trainCandidates' options from the spec, for the given algorithms and seed. */
export function trainOptions(spec: ModelSpec, algorithms: readonly AlgorithmName[], seed: number): TrainOptions {
  return {
    label: spec.data.label,
    ...(spec.data.exclude ? { exclude: spec.data.exclude } : {}),
    ...(spec.data.types ? { types: spec.data.types } : {}),
    ...(spec.data.missingCategory ? { missingCategory: spec.data.missingCategory } : {}),
    algorithms,
    seed,
    selectionMetric: spec.training.selectionMetric,
  };
}
