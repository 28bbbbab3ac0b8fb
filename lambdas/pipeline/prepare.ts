import { createHash } from 'node:crypto';
import { ALGORITHMS as SPEC_ALGORITHMS } from '../../core/pipeline/model-spec';
import { TRAINERS } from '../../training/algorithms';
import type { AlgorithmName } from '../../training/algorithms/types';
import { DEFAULT_SEED } from '../../training/train';
import type { ExecutionInput, PrepareResult, ValidationResult } from '../../core/pipeline/contract';
import { specFor, type StepDeps } from './deps';
import { isProcessedData, processedPrefix, runIdFor } from './keys';

export type PrepareInput = ExecutionInput & { readonly validation?: ValidationResult };

/** The spec's algorithms (default: all), minus those that cannot train on its declared text features. */
export function algorithmsFor(types: Readonly<Record<string, string>> | undefined, requested: readonly AlgorithmName[] | undefined): AlgorithmName[] {
  const hasText = Object.values(types ?? {}).includes('text');
  return (requested ?? [...SPEC_ALGORITHMS]).filter((a) => !hasText || TRAINERS[a].supportsText);
}

/**
 * Snapshots the training data: every processed/<model>/*.csv in key (time) order, hashed so the
 * run records exactly what it trained on. The run id is the execution name, so a retried
 * step writes to the same runs/ folder.
 */
export async function prepare(input: PrepareInput, deps: StepDeps): Promise<PrepareResult> {
  const spec = specFor(deps, input.model);
  const dataKeys = (await deps.dataStore.list(processedPrefix(input.model))).filter(isProcessedData).sort();
  if (dataKeys.length === 0) {
    throw new Error(`no training data for model "${input.model}": processed/${input.model}/ holds no .csv files (upload to incoming/${input.model}/)`);
  }
  const hash = createHash('sha256');
  for (const key of dataKeys) {
    const object = await deps.dataStore.get(key);
    if (!object) throw new Error(`data file ${key} disappeared while preparing the run`);
    hash.update(`${key}\n`).update(createHash('sha256').update(object.body).digest('hex')).update('\n');
  }
  const algorithms = algorithmsFor(spec.data.types, spec.training.algorithms);
  if (algorithms.length === 0) throw new Error(`none of the algorithms of model "${input.model}" can train on its text features`);
  return { runId: runIdFor(input.execution), dataKeys, dataSha256: hash.digest('hex'), algorithms, seed: spec.training.seed ?? DEFAULT_SEED };
}
