import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROCESSED_LOAD_OPTIONS } from '../../core/pipeline/data-contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadTable, type RawTable } from '../../training/data/load';
import type { TrainOptions } from '../../training/train';
import type { AlgorithmName } from '../../training/algorithms/types';
import type { StepDeps } from './deps';

/**
 * Downloads processed/ files to a scratch folder and reads them as one table (the loader reads
 * paths). Source URIs name the S3 objects, not the scratch files, so manifests say where data lives.
 */
export async function loadProcessed(deps: StepDeps, keys: readonly string[]): Promise<RawTable> {
  if (keys.length === 0) throw new Error('no data files to load');
  mkdirSync(deps.tmpDir, { recursive: true });
  const dir = mkdtempSync(join(deps.tmpDir, 'pipeline-data-'));
  try {
    const paths = await Promise.all(
      keys.map(async (key, i) => {
        const object = await deps.dataStore.get(key);
        if (!object) throw new Error(`data file ${key} does not exist (was processed/ changed during the run?)`);
        const path = join(dir, `${i}.csv`);
        writeFileSync(path, object.body);
        return path;
      }),
    );
    const table = loadTable(paths, PROCESSED_LOAD_OPTIONS);
    const uri = (key: string) => (deps.dataBucket ? `s3://${deps.dataBucket}/${key}` : key);
    return { ...table, sources: table.sources.map((s, i) => ({ ...s, uri: uri(keys[i]) })) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
