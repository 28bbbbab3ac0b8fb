import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { StepRequest } from '../../core/pipeline/contract';
import type { StepRunner } from './runner';
import { type LogKeys, loggedRunner } from '../shared/logged-runner';

/**
 * The keys every log line of a step carries, as the inference function's lines carry model,
 * version and request id: `model`, `execution` (the Step Functions execution name, which names
 * the run's runs/ folder), `runId` once Prepare chose it, `step`, `algorithm` for a training item,
 * and the Lambda request id from the context (Powertools' function_request_id). One execution's
 * lines are then one CloudWatch Logs Insights filter: `filter execution = "<name>"`.
 */
export interface StepLogKeys {
  readonly step: string;
  readonly model?: string;
  readonly execution?: string;
  readonly runId?: string;
  readonly algorithm?: string;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** The correlation keys of a request, whatever its step's input shape (the state, a TrainItem, or { state, error }). */
export function stepLogKeys(request: StepRequest): StepLogKeys {
  const input = record(request.input);
  const state = request.step === 'record-failure' ? record(input.state) : input;
  const keys = {
    step: String(request.step),
    model: text(state.model),
    execution: text(state.execution),
    runId: text(state.runId) ?? text(record(state.prepare).runId),
    algorithm: text(state.algorithm),
  };
  return Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined)) as unknown as StepLogKeys;
}

/** The pipeline's runner with one structured line per step (see loggedRunner), correlated by stepLogKeys. */
export function loggedStepRunner(
  run: StepRunner,
  logger: Logger,
): (request: StepRequest, context?: Context) => Promise<unknown> {
  return loggedRunner(run, logger, (request) => stepLogKeys(request) as unknown as LogKeys);
}
