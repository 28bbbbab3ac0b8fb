import { PIPELINE_STEPS, type PipelineStep, type StepRequest } from '../../core/pipeline/contract';
import type { StepDeps } from './deps';
import { evaluate, type EvaluateInput } from './evaluate';
import { prepare, type PrepareInput } from './prepare';
import { recordFailure } from './record-failure';
import { register, type RegisterInput } from './register';
import { train } from './train';
import { readCandidate } from './managed-train';
import { validate } from './validate';
import type { ExecutionInput, FailureInput, TrainItem } from '../../core/pipeline/contract';

/** A malformed request from the state machine (a definition/handler mismatch): not worth retrying. */
export class StepRequestError extends Error {
  override readonly name = 'StepRequestError';
}

export type StepRunner = (request: StepRequest) => Promise<unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkInput(step: PipelineStep, input: unknown): void {
  if (!isRecord(input))
    throw new StepRequestError(`step "${step}": input must be a JSON object, got ${JSON.stringify(input)}`);
  const state = step === 'record-failure' ? input.state : input;
  if (!isRecord(state) || typeof state.model !== 'string' || state.model === '') {
    throw new StepRequestError(
      `step "${step}": ${step === 'record-failure' ? 'input.state.model' : 'input.model'} must be a model name`,
    );
  }
  const needs: Partial<Record<PipelineStep, readonly string[]>> = {
    train: ['runId', 'dataManifestKey', 'seed', 'algorithm'],
    'read-candidate': ['runId', 'algorithm'],
    prepare: ['execution'],
    evaluate: ['prepare', 'candidates'],
    register: ['execution', 'prepare', 'candidates', 'evaluation'],
  };
  const missing = (needs[step] ?? []).filter((field) => input[field] === undefined);
  if (missing.length > 0)
    throw new StepRequestError(`step "${step}": input is missing ${missing.map((f) => `"${f}"`).join(', ')}`);
}

/**
 * Binds the pipeline's steps to their dependencies: the Lambda handler, the local platform and
 * the tests all run state-machine Tasks through this one function.
 */
export function createStepRunner(deps: StepDeps): StepRunner {
  return async (request) => {
    if (!isRecord(request) || !PIPELINE_STEPS.includes(request.step)) {
      const step = isRecord(request) ? JSON.stringify(request.step) : 'none';
      throw new StepRequestError(`unknown step ${step}; expected one of ${PIPELINE_STEPS.join(', ')}`);
    }
    const { step, input } = request;
    checkInput(step, input);
    switch (step) {
      case 'validate':
        return validate(input as ExecutionInput, deps);
      case 'prepare':
        return prepare(input as PrepareInput, deps);
      case 'train':
        return train(input as TrainItem, deps);
      case 'read-candidate':
        return readCandidate(input as TrainItem, deps);
      case 'evaluate':
        return evaluate(input as EvaluateInput, deps);
      case 'register':
        return register(input as RegisterInput, deps);
      case 'record-failure':
        return recordFailure(input as FailureInput, deps);
    }
  };
}
