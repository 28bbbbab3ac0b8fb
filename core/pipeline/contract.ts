/**
 * The contract between the retraining state machine (lib/constructs/retraining-pipeline.ts) and
 * its Lambda tasks (lambdas/pipeline/). One function runs every step: each Task invokes it with
 * `{ step, input }` and puts the result at the state path below. It sits in core/ because the
 * CDK definition, the handlers and the registry CLI (runs) all read it. Keeping the shapes here, in
 * one file, is what lets the definition CDK synthesises and the handlers evolve together.
 *
 * Execution input (from the EventBridge rule, the schedule, or a manual start-execution):
 *   { model, trigger, bucket?, key?, etag? }                                  -> $
 * States, in order:
 *   Validate       step 'validate'   ResultPath $.validation
 *   Quarantined?   Choice on $.validation.status: 'quarantined' -> NotifyQuarantine -> Fail;
 *                  'duplicate' -> Succeed (AlreadyHandled)
 *   Prepare        step 'prepare'    ResultPath $.prepare
 *   TrainCandidates  Map over $.prepare.algorithms, item = TrainItem     ResultPath $.candidates
 *                  step 'train'
 *   Evaluate       step 'evaluate'   ResultPath $.evaluation   (candidates AND champion, same holdout)
 *   Gate           Choice on $.evaluation.decision.promote
 *     true  -> Register  step 'register' (promote: true)   ResultPath $.registration
 *     false -> Register  step 'register' (promote: false: alias 'challenger', reason recorded)
 *   Notify         SNS publish of a summary
 * Every Task: Retry on Lambda's transient errors, Catch -> RecordFailure (step 'record-failure',
 *   input { execution state, error }) -> NotifyFailure -> Fail.
 */

export type PipelineStep = 'validate' | 'prepare' | 'train' | 'evaluate' | 'register' | 'record-failure';

export const PIPELINE_STEPS: readonly PipelineStep[] = ['validate', 'prepare', 'train', 'evaluate', 'register', 'record-failure'];

/** What every Task sends the function. */
export interface StepRequest<I = unknown> {
  readonly step: PipelineStep;
  readonly input: I;
}

export type Trigger = 'upload' | 'schedule' | 'manual';

/** $ at the start of an execution. */
export interface ExecutionInput {
  readonly model: string;
  readonly trigger: Trigger;
  /** The data bucket and the uploaded object (upload trigger only). */
  readonly bucket?: string;
  readonly key?: string;
  readonly etag?: string;
  /** $$.Execution.Name, passed in by the state machine (Parameters) so runs/ can use it. */
  readonly execution: string;
  /** $$.Execution.StartTime (ISO), for the run-duration metric. */
  readonly startedAt?: string;
}

/** validate: checks incoming/<model>/<file> against the spec's data contract. */
export type ValidationResult =
  | { readonly status: 'clean'; readonly processedKey: string; readonly reportKey: string; readonly dataSha256: string; readonly rows: number }
  | { readonly status: 'quarantined'; readonly quarantineKey: string; readonly reportKey: string; readonly problems: readonly string[] }
  /** schedule / manual runs: nothing new to validate, train on what processed/ holds. */
  | { readonly status: 'skipped' }
  /** schedule / manual runs of a model with no processed data yet (no upload so far): nothing to do. */
  | { readonly status: 'no-data' }
  /**
   * Another execution already handled this very object version (S3 delivered its event twice and
   * EventBridge, which cannot name executions, started a second one): nothing to do, no retrain.
   */
  | { readonly status: 'duplicate'; readonly handledBy: string };

/** prepare: snapshot of the training data and the run's settings. */
export interface PrepareResult {
  /** runs/<model>/<runId>/ holds this run's candidates and summary. */
  readonly runId: string;
  /** Every processed/<model>/ file the run trains on, in order (all of the model's data). */
  readonly dataKeys: readonly string[];
  readonly dataSha256: string;
  readonly algorithms: readonly string[];
  readonly seed: number;
}

/** One Map item: the state machine builds it from $.model, $.prepare and $$.Map.Item.Value. */
export interface TrainItem {
  readonly model: string;
  readonly runId: string;
  readonly dataKeys: readonly string[];
  readonly seed: number;
  readonly algorithm: string;
}

export interface Scores {
  readonly accuracy: number;
  readonly macroF1: number;
}

/** train: one candidate, written to runs/<model>/<runId>/candidates/<algorithm>/{model.onnx,manifest.json}. */
export interface CandidateResult {
  readonly algorithm: string;
  readonly candidatePrefix: string;
  readonly params: Readonly<Record<string, number | string | boolean>>;
  readonly validation: Scores;
  readonly holdout: Scores;
  readonly fitSeconds: number;
}

/** evaluate: the best candidate (by validation) and the champion, both scored on the run's holdout. */
export interface EvaluationResult {
  readonly best: CandidateResult;
  readonly champion?: { readonly version: number; readonly holdout: Scores };
  readonly decision: { readonly promote: boolean; readonly reason: string };
}

/** register: the new version, and the alias it was given. */
export interface RegistrationResult {
  readonly version: number;
  readonly alias: 'champion' | 'challenger';
  readonly promoted: boolean;
}

/** record-failure: what failed is kept under runs/<model>/<runId or execution>/failure.json. */
export interface FailureInput {
  readonly state: ExecutionInput & Record<string, unknown>;
  readonly error: { readonly Error?: string; readonly Cause?: string };
}

/** What runs/<model>/<runId>/summary.json holds: the run's experiment record. */
export interface RunSummary {
  readonly model: string;
  readonly execution: string;
  readonly runId: string;
  readonly trigger: string;
  readonly finishedAt: string;
  readonly data: { readonly keys: readonly string[]; readonly sha256: string; readonly seed: number };
  readonly candidates: readonly CandidateResult[];
  readonly best: string;
  readonly champion?: EvaluationResult['champion'];
  readonly decision: EvaluationResult['decision'];
  readonly registration: RegistrationResult;
}
