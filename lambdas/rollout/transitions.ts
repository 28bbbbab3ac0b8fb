import {
  type AbortResult,
  type AdvanceResult,
  type CaughtError,
  describeStep,
  type PromoteResult,
  type RolloutState,
} from '../../core/rollout/contract';
import { executionActor, type RolloutDeps } from './deps';

/** Puts the plan's next weight in force; its window starts now. RolloutAbortedError when the rollout was ended elsewhere. */
export async function advance(rollout: RolloutState, execution: string, deps: RolloutDeps): Promise<AdvanceResult> {
  const step = rollout.step + 1;
  const weight = rollout.plan.steps[step];
  const reason = `${describeStep(rollout)} passed the live gate; next: ${describeStep({ step, weight, plan: rollout.plan })}`;
  const document = await deps.routing.setCanaryWeight(rollout.model, rollout.rolloutId, step, {
    actor: executionActor(execution),
    reason,
  });
  return {
    status: 'advanced',
    rollout: {
      ...rollout,
      step,
      weight: document.canary?.weight ?? weight,
      extensions: 0,
      stepStartedAt: document.updatedAt,
    },
  };
}

/**
 * Makes the canary the champion, only over the champion it started against (AliasMovedError
 * otherwise, which the definition turns into an abort), and clears it from the routing document.
 */
export async function promote(
  input: { readonly rollout: RolloutState; readonly reason?: string },
  execution: string,
  deps: RolloutDeps,
): Promise<PromoteResult> {
  const { rollout } = input;
  const steps = rollout.plan.steps.map((w) => `${w}%`).join(' -> ');
  const reason = `rollout ${rollout.rolloutId}: canary v${rollout.version} passed every step (${steps}) of the live gate; last: ${input.reason ?? 'passed'}`;
  const promoted = await deps.routing.promoteCanary(
    rollout.model,
    { actor: executionActor(execution), reason },
    { rolloutId: rollout.rolloutId },
  );
  return { status: 'promoted', reason, rollout, previousChampion: promoted.previousChampion };
}

export interface AbortInput {
  readonly rollout: RolloutState;
  /** The judge's verdict that led here: 'fail', or 'insufficient' with no extension left. */
  readonly status?: string;
  readonly reason?: string;
  /** Set when Promote failed because the champion moved (AliasMovedError). */
  readonly error?: CaughtError;
}

/** Why the rollout is aborted, from what led to the Abort state. */
function abortReason(input: AbortInput): string {
  const { rollout } = input;
  if (input.error)
    return `rollout ${rollout.rolloutId}: the champion moved while canary v${rollout.version} was rolled out, so it cannot be promoted over it (${input.error.Error}: ${input.error.Cause ?? 'no cause'})`;
  if (input.status === 'insufficient') {
    return `not enough traffic to judge after ${rollout.plan.maxExtensions} extension(s) of the ${rollout.plan.bakeSeconds} s bake: ${input.reason ?? ''}`;
  }
  return `failed the live gate: ${input.reason ?? 'no reason given'}`;
}

/** Takes the canary out (weight 0, `challenger` pointed at it) with the reason; a no-op if it was already gone. */
export async function abort(input: AbortInput, execution: string, deps: RolloutDeps): Promise<AbortResult> {
  const reason = abortReason(input);
  const result = await deps.routing.abortCanary(
    input.rollout.model,
    { actor: executionActor(execution), reason },
    { rolloutId: input.rollout.rolloutId },
  );
  return { status: 'aborted', reason, rollout: input.rollout, aborted: result.aborted };
}
