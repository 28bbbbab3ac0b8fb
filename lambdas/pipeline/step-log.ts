import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { StepRequest } from '../../core/pipeline/contract';
import type { StepRunner } from './runner';

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

/** What a step's result adds to its "step finished" line: the version Register made, a validation's status. */
function resultKeys(result: unknown): Record<string, unknown> {
  const r = record(result);
  const out: Record<string, unknown> = {};
  if (typeof r.version === 'number') out.version = r.version;
  if (typeof r.status === 'string') out.status = r.status;
  if (typeof r.runId === 'string') out.runId = r.runId;
  return out;
}

/**
 * The runner with one structured line per step: "step finished" (seconds, and the version or
 * status it produced) or "step failed" (the error's name, which is what Step Functions routes on,
 * and its message), every line with the request's correlation keys. The error is rethrown as is.
 */
export function loggedStepRunner(
  run: StepRunner,
  logger: Logger,
): (request: StepRequest, context?: Context) => Promise<unknown> {
  return async (request, context) => {
    if (context) logger.addContext(context);
    const keys = stepLogKeys(request);
    logger.appendKeys({ ...keys });
    const started = Date.now();
    try {
      const result = await run(request);
      logger.info('step finished', { seconds: (Date.now() - started) / 1000, ...resultKeys(result) });
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      logger.error('step failed', {
        seconds: (Date.now() - started) / 1000,
        errorName: failure.name,
        errorMessage: failure.message,
      });
      throw error;
    } finally {
      // A warm environment runs the next step with other keys.
      logger.removeKeys(['step', 'model', 'execution', 'runId', 'algorithm']);
    }
  };
}
