/**
 * The rollout state machine's contract: its execution input, the state every Task passes on, the
 * steps of the one rollout function, and the error names the definition routes on. The
 * definition (lib/constructs/rollout-definition.ts) and the handler (lambdas/rollout/) both
 * import from here, so change them together.
 *
 *   S3 Object Created registry/<model>/rollouts/<rolloutId>.json --EventBridge--> { bucket, key }
 *   Begin -> loop { Bake (Wait $.rollout.plan.bakeSeconds) -> Judge -> Verdict
 *                     pass, more steps      -> Advance -> loop
 *                     pass, last step       -> Promote -> Promoted
 *                     insufficient, extensions left -> loop (same step, window keeps growing)
 *                     fail | out of extensions      -> Abort -> Aborted
 *                     aborted elsewhere     -> Aborted }
 *   any Task's unexpected error -> RecordFailure (record, canary taken out) -> RolloutFailed
 *
 * Each Task returns the whole next state (no ResultPath), so the state never grows with the
 * number of steps or extensions.
 */
import type { GateVerdict, VariantStats } from './live-gate';
import { rolloutPlanSchema, type RolloutPlan } from '../registry/routing';
import { modelPrefix } from '../registry/keys';
import { z } from 'zod';

export const ROLLOUT_STEPS = ['begin', 'judge', 'advance', 'promote', 'abort', 'record-failure'] as const;
export type RolloutStep = (typeof ROLLOUT_STEPS)[number];

/** What a Task sends the function: the step, the state and the execution's name (the actor of its changes). */
export interface RolloutStepRequest {
  readonly step: RolloutStep;
  readonly execution: string;
  readonly input: unknown;
}

/** The execution input the EventBridge rule builds from the S3 event (or a local start). */
export const rolloutStartSchema = z.object({ bucket: z.string().optional(), key: z.string().min(1) });
export type RolloutStart = z.infer<typeof rolloutStartSchema>;

/** Where the rollout stands; carried from Task to Task. */
export const rolloutStateSchema = z.strictObject({
  model: z.string(),
  rolloutId: z.string(),
  version: z.number().int().positive(),
  /** The champion the canary started against (the routing document's). */
  champion: z.number().int().positive().nullable(),
  /** The RolloutRequest object that started this execution. */
  requestKey: z.string(),
  plan: rolloutPlanSchema,
  /** Index into plan.steps of the weight in force. */
  step: z.number().int().min(0),
  weight: z.number(),
  /** Bakes added to this step for lack of traffic so far. */
  extensions: z.number().int().min(0),
  /** When the canary started (its first step's window starts here). */
  startedAt: z.string(),
  /** When the weight in force was set: the judged window starts here. */
  stepStartedAt: z.string(),
});
export type RolloutState = z.infer<typeof rolloutStateSchema>;

export type BeginResult =
  | { readonly status: 'started'; readonly rollout: RolloutState }
  | { readonly status: 'superseded'; readonly key: string; readonly reason: string };

/** The window the judge read, for the execution history and the notice. */
export interface JudgedWindow {
  readonly since: string;
  readonly until: string;
  readonly canary: VariantStats;
  readonly champion: VariantStats;
  /** Set when the champion's numbers come from before this step (a step at 100% leaves it no traffic). */
  readonly championBaseline?: { readonly since: string; readonly until: string };
}

export type JudgeResult =
  | {
      readonly status: GateVerdict['verdict'];
      readonly reason: string;
      readonly rollout: RolloutState;
      readonly lastStep: boolean;
      readonly extensionsLeft: boolean;
      readonly checks: GateVerdict['checks'];
      readonly window: JudgedWindow;
    }
  | { readonly status: 'aborted'; readonly reason: string; readonly rollout: RolloutState };

export interface AdvanceResult {
  readonly status: 'advanced';
  readonly rollout: RolloutState;
}

export interface PromoteResult {
  readonly status: 'promoted';
  readonly reason: string;
  readonly rollout: RolloutState;
  readonly previousChampion: number | null;
}

export interface AbortResult {
  readonly status: 'aborted';
  readonly reason: string;
  readonly rollout: RolloutState;
  /** False when the canary was already gone (aborted or replaced by someone else first). */
  readonly aborted: boolean;
}

/** A Task's error as a Catch with ResultPath $.error records it. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/**
 * Error names the definition routes on (the handler's typed errors keep these names):
 * RolloutAbortedError (the rollout is no longer the document's canary) ends the execution in
 * Aborted; AliasMovedError at Promote (the champion moved since the canary started) aborts;
 * RoutingConflictError (the document kept changing under the write) is retried.
 */
export const ROLLOUT_ABORTED_ERROR = 'RolloutAbortedError';
export const ALIAS_MOVED_ERROR = 'AliasMovedError';
export const ROUTING_CONFLICT_ERROR = 'RoutingConflictError';

/**
 * Records of the rollout executions, beside (not under) rollouts/: a key under rollouts/ would
 * start another execution.
 *   registry/<model>/rollout-runs/<rolloutId>/claim.json     the execution that drives the rollout (written once)
 *   registry/<model>/rollout-runs/<rolloutId>/failure.json   what failed, when an execution broke
 */
const rolloutRunsPrefix = (model: string) => `${modelPrefix(model)}rollout-runs/`;
export const rolloutClaimKey = (model: string, rolloutId: string) =>
  `${rolloutRunsPrefix(model)}${rolloutId}/claim.json`;
export const rolloutFailureKey = (model: string, rolloutId: string) =>
  `${rolloutRunsPrefix(model)}${rolloutId}/failure.json`;

/** registry/<model>/rollouts/<rolloutId>.json -> its model and rollout id, or undefined for any other key. */
export function parseRolloutRequestKey(key: string): { model: string; rolloutId: string } | undefined {
  const match = /^registry\/([a-z0-9][a-z0-9_-]{0,63})\/rollouts\/([A-Za-z0-9_-]{1,80})\.json$/.exec(key);
  return match ? { model: match[1], rolloutId: match[2] } : undefined;
}

/** The step's weight and its place in the plan, for reasons: "step 2 of 3 (50%)". */
export function describeStep(
  rollout: Pick<RolloutState, 'step' | 'weight'> & { readonly plan: Pick<RolloutPlan, 'steps'> },
): string {
  return `step ${rollout.step + 1} of ${rollout.plan.steps.length} (${rollout.weight}%)`;
}
