import type { FailureInput } from '../../core/pipeline/contract';
import { failureCategory } from '../../core/pipeline/errors';
import type { StepDeps } from './deps';
import { failureKey, runIdFor, safeSegment } from './keys';
import { NO_METRICS, PIPELINE_METRICS } from './metrics';

/** Step Functions puts the error's JSON (message, stack) in Cause as a string; keep it readable. */
function parseCause(cause: string | undefined): unknown {
  if (cause === undefined) return undefined;
  try {
    return JSON.parse(cause);
  } catch {
    return cause;
  }
}

function runIdOf(state: FailureInput['state']): string {
  const prepare = state.prepare as { runId?: unknown } | undefined;
  if (typeof prepare?.runId === 'string' && prepare.runId !== '') return prepare.runId;
  return runIdFor(state.execution || 'unknown-execution');
}

/** Keeps what failed, with the whole execution state, at runs/<model>/<runId or execution>/failure.json. */
export async function recordFailure(input: FailureInput, deps: StepDeps): Promise<{ failureKey: string }> {
  const { state, error } = input;
  const model = safeSegment(state.model || 'unknown-model');
  const key = failureKey(model, runIdOf(state));
  const record = {
    model: state.model,
    execution: state.execution,
    failedAt: deps.clock().toISOString(),
    // The error's name (core/pipeline/errors.ts) and what kind of failure it is, so a reader (or an
    // alarm on the record) tells bad data from a bug without reading the cause.
    error: { error: error.Error ?? 'Error', category: failureCategory(error.Error), cause: parseCause(error.Cause) },
    state,
  };
  await deps.modelStore.put(key, JSON.stringify(record, null, 2), { contentType: 'application/json' });
  (deps.recorder ?? NO_METRICS).record({
    name: PIPELINE_METRICS.runFailures,
    unit: 'Count',
    value: 1,
    dimensions: { model },
  });
  return { failureKey: key };
}
