/**
 * Which engine trains a run's candidates: the pipeline function (one Lambda invocation per
 * algorithm, 15 minutes at most) or the managed task (one ECS Fargate task per algorithm, the
 * same trainer in a container, sized by platform.pipeline.managedTraining). Prepare decides once
 * per run, before anything trains, from the spec's `training.engine` and the capacity model
 * (training-capacity.ts); the state machine's TrainingEngine? Choice reads the decision.
 */
import type { TrainingEngineSetting } from './model-spec';
import { capacityProblem, type DatasetSize, DatasetTooLargeError, type StepResources } from './training-capacity';

export type TrainingEngine = 'lambda' | 'managed';

export interface EngineChoice {
  readonly engine: TrainingEngine;
  /** Why, in one sentence (the run's state and the operations guide show it). */
  readonly reason: string;
}

export interface EngineRequest {
  readonly model: string;
  readonly size: DatasetSize;
  readonly algorithms: readonly string[];
  /** The spec's training.engine. @default "auto" */
  readonly requested?: TrainingEngineSetting;
  /** The pipeline function's memory and timeout. */
  readonly lambda: StepResources;
  /**
   * The managed task's memory and timeout (maxSeconds: its timeout, no 15-minute cap).
   * @default - no managed engine deployed: data beyond one function is refused
   */
  readonly managed?: StepResources;
}

/**
 * The engine for this run, or DatasetTooLargeError when even the chosen engine cannot train the
 * data (a clear failure record before anything trains, instead of a timeout or an OOM kill).
 */
export function chooseTrainingEngine(request: EngineRequest): EngineChoice {
  const { model, size, algorithms } = request;
  const requested = request.requested ?? 'auto';
  const onLambda = capacityProblem(model, size, algorithms, request.lambda);
  const managedProblem = (resources: StepResources) => {
    const problem = capacityProblem(model, size, algorithms, resources);
    return (
      problem && `on the managed training task (${resources.memoryMb} MB, ${resources.timeoutSeconds} s): ${problem}`
    );
  };
  if (requested === 'lambda') {
    if (onLambda) throw new DatasetTooLargeError(`training.engine is "lambda": ${onLambda}`);
    return { engine: 'lambda', reason: 'training.engine is "lambda"' };
  }
  if (requested === 'auto' && !onLambda) {
    return { engine: 'lambda', reason: 'the data fits one training function' };
  }
  if (!request.managed) {
    throw new DatasetTooLargeError(
      requested === 'managed'
        ? `training.engine is "managed", but this deployment has no managed training task (platform.pipeline.managedTraining)`
        : (onLambda as string),
    );
  }
  const problem = managedProblem(request.managed);
  if (problem) throw new DatasetTooLargeError(problem);
  return {
    engine: 'managed',
    reason:
      requested === 'managed'
        ? 'training.engine is "managed"'
        : 'the data is larger than one training function takes (training capacity), so it trains on the managed task',
  };
}
