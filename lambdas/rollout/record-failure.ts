import {
  type CaughtError,
  parseRolloutRequestKey,
  rolloutFailureKey,
  type RolloutState,
} from '../../core/rollout/contract';
import { executionActor, type RolloutDeps } from './deps';

export interface FailureInput {
  readonly rollout?: RolloutState;
  /** The request key, when the execution failed before Begin had built the state. */
  readonly key?: string;
  readonly error?: CaughtError;
}

export interface FailureResult {
  readonly recorded?: string;
  readonly aborted: boolean;
}

/**
 * A broken execution (an unexpected error, retries used up): writes what failed to
 * rollout-runs/<rolloutId>/failure.json and takes the canary out. Nothing would drive the canary
 * any more, and a canary nobody judges must not keep its traffic: the rollout fails closed.
 */
export async function recordFailure(input: FailureInput, execution: string, deps: RolloutDeps): Promise<FailureResult> {
  const target = input.rollout ?? (input.key ? parseRolloutRequestKey(input.key) : undefined);
  if (!target) return { aborted: false };
  const error = input.error ?? { Error: 'Unknown', Cause: 'no error was recorded' };
  const key = rolloutFailureKey(target.model, target.rolloutId);
  const at = deps.clock().toISOString();
  await deps.store.put(
    key,
    JSON.stringify(
      { model: target.model, rolloutId: target.rolloutId, execution, at, error, rollout: input.rollout },
      null,
      2,
    ),
    { contentType: 'application/json' },
  );
  const reason = `the rollout execution ${execution} failed (${error.Error}: ${error.Cause ?? ''}); the canary is taken out rather than left without a judge (record: ${key})`;
  const { aborted } = await deps.routing.abortCanary(
    target.model,
    { actor: executionActor(execution), reason },
    { rolloutId: target.rolloutId },
  );
  return { recorded: key, aborted };
}
