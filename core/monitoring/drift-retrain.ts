import { type ObjectStore, PreconditionFailedError } from '../object-store';
import { compactTime, type DriftRetrainState, driftRetrainStateKey } from './contract';

/**
 * The cool-down of drift retrains: at most one per `cooldownHours` per model, however many
 * monitoring ticks see the drift and however many run at once. The last start is recorded in
 * monitoring-state/<model>/drift-retrain.json, replaced only by a conditional write (If-None-Match
 * when there is none, If-Match on the ETag read): of two ticks that both see the cool-down over,
 * one write wins and only its tick starts a run. The state is written BEFORE the start, so a tick
 * that crashes between the two leaves a cool-down without a run (a missed retrain, which the next
 * drift after the cool-down makes up) rather than two runs.
 */

/** Starts the retraining state machine with trigger 'drift' (Step Functions in AWS, the local runner locally). */
export interface RetrainStarter {
  /**
   * Starts execution `executionName` for `model`, naming the report that asked for it. `started`
   * is false when the runner refused it (e.g. the name is in use and it is not the same run).
   */
  start(model: string, reportKey: string, executionName: string): Promise<{ readonly started: boolean }>;
}

const EXECUTION_NAME_LIMIT = 80;

/** `drift-<model>-<compact time>`, at most 80 characters (Step Functions' limit): a long model name is cut, never the time. */
export function driftExecutionName(model: string, now: Date): string {
  const time = compactTime(now);
  const room = EXECUTION_NAME_LIMIT - 'drift-'.length - 1 - time.length;
  return `drift-${model.slice(0, room)}-${time}`;
}

export type DriftRetrainClaim =
  | { readonly claimed: true; readonly state: DriftRetrainState; readonly etag: string }
  | { readonly claimed: false; readonly reason: string };

function parseState(body: Uint8Array): DriftRetrainState | undefined {
  try {
    const value = JSON.parse(Buffer.from(body).toString('utf8')) as Partial<DriftRetrainState>;
    if (
      typeof value.startedAt !== 'string' ||
      Number.isNaN(Date.parse(value.startedAt)) ||
      typeof value.execution !== 'string'
    )
      return undefined;
    return value as DriftRetrainState;
  } catch {
    return undefined;
  }
}

const coolDownEnd = (state: DriftRetrainState, cooldownHours: number) =>
  new Date(Date.parse(state.startedAt) + cooldownHours * 3600_000);

function inCoolDown(state: DriftRetrainState, cooldownHours: number, now: Date): string | undefined {
  const until = coolDownEnd(state, cooldownHours);
  return now < until
    ? `cool-down until ${until.toISOString()}: drift retrain ${state.execution} started at ${state.startedAt}`
    : undefined;
}

/**
 * Claims the right to start a drift retrain now, or says why not (the cool-down, or another tick
 * claimed it first). A state object that cannot be read is replaced (it holds no cool-down).
 */
export async function claimDriftRetrain(
  store: ObjectStore,
  model: string,
  now: Date,
  cooldownHours: number,
  reportKey: string,
): Promise<DriftRetrainClaim> {
  const key = driftRetrainStateKey(model);
  const current = await store.get(key);
  const previous = current === undefined ? undefined : parseState(current.body);
  const waiting = previous === undefined ? undefined : inCoolDown(previous, cooldownHours, now);
  if (waiting) return { claimed: false, reason: waiting };
  const state: DriftRetrainState = {
    startedAt: now.toISOString(),
    execution: driftExecutionName(model, now),
    reportKey,
  };
  try {
    const { etag } = await store.put(key, JSON.stringify(state, null, 2), {
      condition: current === undefined ? { ifNoneMatch: '*' } : { ifMatch: current.etag },
      contentType: 'application/json',
    });
    return { claimed: true, state, etag };
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    const winner = await store.get(key);
    const theirs = winner === undefined ? undefined : parseState(winner.body);
    const reason = theirs
      ? `another monitoring run claimed the drift retrain first (${theirs.execution} at ${theirs.startedAt}); cool-down until ${coolDownEnd(theirs, cooldownHours).toISOString()}`
      : 'another monitoring run changed the drift retrain state at the same time';
    return { claimed: false, reason };
  }
}

/**
 * Gives a claim back after its start failed, so the next tick may try again; only when the state
 * is still this claim's (a later claim is never removed).
 */
export async function releaseDriftRetrain(store: ObjectStore, model: string, etag: string): Promise<void> {
  const key = driftRetrainStateKey(model);
  const current = await store.get(key);
  if (current?.etag === etag) await store.delete(key);
}
