import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** Correlation keys of one invocation (model, execution, version, ...): present ones only. */
export type LogKeys = Readonly<Record<string, string | number>>;

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** What a result adds to its "step finished" line: the version made, a status, the run id. */
function resultKeys(result: unknown): Record<string, unknown> {
  const r = record(result);
  const out: Record<string, unknown> = {};
  if (typeof r.version === 'number') out.version = r.version;
  if (typeof r.status === 'string') out.status = r.status;
  if (typeof r.runId === 'string') out.runId = r.runId;
  return out;
}

/**
 * A function's runner with one structured line per invocation: "step finished" (seconds, and the
 * version or status it produced) or "step failed" (the error's name, which is what Step Functions
 * routes on, and its message), every line with the invocation's correlation keys and the Lambda
 * request id from the context (Powertools' function_request_id). The error is rethrown as is. The
 * keys go on the line itself, never onto the shared logger: a warm environment's next invocation
 * cannot inherit them, and steps running at once in one process (the local platform's function
 * process) cannot mix each other's.
 */
export function loggedRunner<E>(
  run: (event: E) => Promise<unknown>,
  logger: Logger,
  keysOf: (event: E) => LogKeys,
): (event: E, context?: Context) => Promise<unknown> {
  return async (event, context) => {
    if (context) logger.addContext(context);
    const keys = keysOf(event);
    const started = Date.now();
    try {
      const result = await run(event);
      logger.info('step finished', { ...keys, seconds: (Date.now() - started) / 1000, ...resultKeys(result) });
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      logger.error('step failed', {
        ...keys,
        seconds: (Date.now() - started) / 1000,
        errorName: failure.name,
        errorMessage: failure.message,
      });
      throw error;
    }
  };
}
