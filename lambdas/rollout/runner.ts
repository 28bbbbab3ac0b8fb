import { z } from 'zod';
import {
  ROLLOUT_STEPS,
  type RolloutStepRequest,
  rolloutStartSchema,
  rolloutStateSchema,
} from '../../core/rollout/contract';
import { alarmAbort, isAlarmEvent } from './alarm-abort';
import { begin } from './begin';
import type { RolloutDeps } from './deps';
import { judge } from './judge';
import { recordFailure } from './record-failure';
import { abort, advance, promote } from './transitions';

/** A malformed request (a definition/handler mismatch, or an event this function does not take): not worth retrying. */
export class RolloutStepRequestError extends Error {
  override readonly name = 'RolloutStepRequestError';
}

const requestSchema = z.object({ step: z.enum(ROLLOUT_STEPS), execution: z.string().min(1), input: z.unknown() });
const withRollout = z.object({ rollout: rolloutStateSchema }).passthrough();
const caughtError = z.object({ Error: z.string(), Cause: z.string().optional() });
const abortInput = withRollout.extend({
  status: z.string().optional(),
  reason: z.string().optional(),
  error: caughtError.optional(),
});
const failureInput = z
  .object({ rollout: rolloutStateSchema.optional(), key: z.string().optional(), error: caughtError.optional() })
  .passthrough();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new RolloutStepRequestError(
      `${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

export type RolloutRunner = (event: unknown) => Promise<unknown>;

/**
 * The rollout function's one entry: a state machine Task ({ step, execution, input }) or the
 * rollback alarm's state change from EventBridge. The Lambda handler, the local platform and the
 * tests all call the steps through this.
 */
export function createRolloutRunner(deps: RolloutDeps): RolloutRunner {
  return async (event) => {
    if (isAlarmEvent(event)) return alarmAbort(event, deps);
    const request: RolloutStepRequest = parse(
      requestSchema,
      event,
      `expected { step: ${ROLLOUT_STEPS.join(' | ')}, execution, input } or a CloudWatch alarm state change`,
    );
    const { step, execution, input } = request;
    switch (step) {
      case 'begin':
        return begin(
          parse(rolloutStartSchema, input, 'begin: input must be the rollout request { bucket, key }'),
          execution,
          deps,
        );
      case 'judge':
        return judge(parse(withRollout, input, 'judge: input must hold the rollout state').rollout, deps);
      case 'advance':
        return advance(
          parse(withRollout, input, 'advance: input must hold the rollout state').rollout,
          execution,
          deps,
        );
      case 'promote':
        return promote(parse(withRollout, input, 'promote: input must hold the rollout state'), execution, deps);
      case 'abort':
        return abort(parse(abortInput, input, 'abort: input must hold the rollout state'), execution, deps);
      case 'record-failure':
        return recordFailure(
          parse(failureInput, input, 'record-failure: input must be the failed state'),
          execution,
          deps,
        );
    }
  };
}
