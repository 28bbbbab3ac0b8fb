import type { CandidateResult, TrainItem } from '../../core/pipeline/contract';
import { MissingArtifactError, PipelineConfigError, PipelineInputError } from '../../core/pipeline/errors';
import type { StepResources } from '../../core/pipeline/training-capacity';
import type { StepDeps } from './deps';
import type { PipelineEnv } from './handler';
import { candidatePrefix } from './keys';
import { asAlgorithm, train } from './train';

/**
 * The managed engine's two halves (core/pipeline/training-engine.ts). The ECS task runs
 * `trainOnTask`: the very train step the function runs, plus its CandidateResult written beside
 * the candidate, because a `.sync` ECS task returns the task's description, not an output. The
 * state machine's next step, 'read-candidate', hands that result on, so Evaluate, the gate and
 * Register see the same candidate whichever engine trained it.
 */

/** runs/<model>/<runId>/candidates/<algorithm>/candidate.json: the managed task's CandidateResult. */
function candidateResultKey(item: Pick<TrainItem, 'model' | 'runId' | 'algorithm'>): string {
  return `${candidatePrefix(item.model, item.runId, asAlgorithm(item.algorithm))}candidate.json`;
}

export async function trainOnTask(item: TrainItem, deps: StepDeps): Promise<CandidateResult> {
  const result = await train(item, deps);
  await deps.modelStore.put(candidateResultKey(item), JSON.stringify(result, null, 2), {
    contentType: 'application/json',
  });
  return result;
}

/** Step 'read-candidate': the CandidateResult the managed task wrote for this item. */
export async function readCandidate(item: TrainItem, deps: StepDeps): Promise<CandidateResult> {
  const key = candidateResultKey(item);
  const object = await deps.modelStore.get(key);
  if (!object) {
    throw new MissingArtifactError(
      `the managed training task for ${item.algorithm} ended without writing ${key}; its log stream (docs/operations.md, managed training) says why`,
    );
  }
  const result = JSON.parse(Buffer.from(object.body).toString('utf8')) as CandidateResult;
  if (result.algorithm !== item.algorithm) {
    throw new MissingArtifactError(`${key} holds a candidate of ${result.algorithm}, not ${item.algorithm}`);
  }
  return result;
}

/** The task's input: TRAIN_ITEM, the Map item as JSON (the state machine's container override). */
export function parseTrainItem(text: string | undefined): TrainItem {
  if (!text)
    throw new PipelineInputError(
      'TRAIN_ITEM must be set to the training item as JSON (model, runId, dataManifestKey, seed, algorithm)',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PipelineInputError(`TRAIN_ITEM is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const item = parsed as Record<string, unknown>;
  const problems = [
    ...(['model', 'runId', 'dataManifestKey', 'algorithm'] as const).filter(
      (f) => typeof item?.[f] !== 'string' || item[f] === '',
    ),
    ...(typeof item?.seed === 'number' && Number.isInteger(item.seed) ? [] : ['seed']),
  ];
  if (typeof parsed !== 'object' || parsed === null || problems.length > 0) {
    throw new PipelineInputError(`TRAIN_ITEM is missing or has a malformed ${problems.join(', ')}`);
  }
  return {
    model: item.model as string,
    runId: item.runId as string,
    dataManifestKey: item.dataManifestKey as string,
    seed: item.seed as number,
    algorithm: item.algorithm as string,
  };
}

/** The managed task's resources from the environment, or undefined when none is deployed. */
export function managedResourcesFrom(
  env: Pick<PipelineEnv, 'MANAGED_TRAINING_MEMORY_MB' | 'MANAGED_TRAINING_TIMEOUT_SECONDS'>,
): StepResources | undefined {
  if (!env.MANAGED_TRAINING_MEMORY_MB) return undefined;
  const memoryMb = Number(env.MANAGED_TRAINING_MEMORY_MB);
  const timeoutSeconds = Number(env.MANAGED_TRAINING_TIMEOUT_SECONDS);
  if (!(memoryMb > 0) || !(timeoutSeconds > 0)) {
    throw new PipelineConfigError(
      `pipeline function is misconfigured: MANAGED_TRAINING_MEMORY_MB and MANAGED_TRAINING_TIMEOUT_SECONDS must be positive numbers, got ${JSON.stringify(env.MANAGED_TRAINING_MEMORY_MB)} and ${JSON.stringify(env.MANAGED_TRAINING_TIMEOUT_SECONDS)}`,
    );
  }
  // No 15-minute cap: the task's own timeout is its limit.
  return { memoryMb, timeoutSeconds, maxSeconds: timeoutSeconds };
}
