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
 *   Quarantined?   Choice on $.validation.status: 'quarantined' -> NotifyQuarantine -> Succeed (Quarantined);
 *                  'duplicate' -> Succeed (AlreadyHandled); 'no-new-data' -> Succeed (NoNewData);
 *                  'no-data' -> Succeed (NoDataYet); 'ignored' -> Succeed (Ignored)
 *   Prepare        step 'prepare'    ResultPath $.prepare   (the file list goes to S3, the state holds its key)
 *   TrainingEngine?  Choice on $.prepare.engine (core/pipeline/training-engine.ts):
 *   TrainCandidates  'lambda': Map over $.prepare.algorithms, item = TrainItem     ResultPath $.candidates
 *                  step 'train'
 *   TrainCandidatesManaged  'managed': the same Map, each item an ECS Fargate task (.sync) running
 *                  the same trainer (TRAIN_ITEM = the item as JSON), which writes the candidate and
 *                  its CandidateResult (candidate.json); then step 'read-candidate' returns it
 *   Evaluate       step 'evaluate'   ResultPath $.evaluation   (candidates AND champion, same holdout)
 *   Gate           Choice on $.evaluation.decision.promote
 *     true  -> Register  step 'register' (promote: true)   ResultPath $.registration
 *     false -> Register  step 'register' (promote: false: alias 'challenger', reason recorded)
 *   Notify         SNS publish of a summary
 * Every Task: Retry on Lambda's transient errors, Catch -> RecordFailure (step 'record-failure',
 *   input { execution state, error }) -> NotifyFailure -> Fail.
 */

export type PipelineStep =
  'validate' | 'prepare' | 'train' | 'read-candidate' | 'evaluate' | 'register' | 'record-failure';

export const PIPELINE_STEPS: readonly PipelineStep[] = [
  'validate',
  'prepare',
  'train',
  'read-candidate',
  'evaluate',
  'register',
  'record-failure',
];

/** What every Task sends the function. */
export interface StepRequest<I = unknown> {
  readonly step: PipelineStep;
  readonly input: I;
}

/** drift: the monitoring job found a feature drifted (core/monitoring); `reportKey` names its report. */
export type Trigger = 'upload' | 'schedule' | 'manual' | 'drift';

/** $ at the start of an execution. */
export interface ExecutionInput {
  readonly model: string;
  readonly trigger: Trigger;
  /** The data bucket and the uploaded object (upload trigger only). */
  readonly bucket?: string;
  readonly key?: string;
  readonly etag?: string;
  /** The monitoring report that started a drift run (drift trigger only). */
  readonly reportKey?: string;
  /** $$.Execution.Name, passed in by the state machine (Parameters) so runs/ can use it. */
  readonly execution: string;
  /** $$.Execution.StartTime (ISO), for the run-duration metric. */
  readonly startedAt?: string;
}

/** validate: checks incoming/<model>/<file> against the spec's data contract. */
export type ValidationResult =
  /** `rows`: new rows written to processed/; `duplicateRows`: rows dropped as already there (or repeated in the file). */
  | {
      readonly status: 'clean';
      readonly processedKey: string;
      readonly reportKey: string;
      readonly dataSha256: string;
      readonly rows: number;
      readonly duplicateRows: number;
    }
  /** Every clean row of the upload is already in processed/<model>/: nothing to train on, not a failure. */
  | {
      readonly status: 'no-new-data';
      readonly reportKey: string;
      readonly rowsIn: number;
      readonly duplicateRows: number;
      readonly runKey: string;
    }
  | {
      readonly status: 'quarantined';
      readonly quarantineKey: string;
      readonly reportKey: string;
      readonly problems: readonly string[];
    }
  /** Not a data file (a folder marker from the S3 console's "Create folder"): nothing to do, not a failure. */
  | { readonly status: 'ignored'; readonly reason: string }
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
  /**
   * runs/<model>/<runId>/data.json: the processed/ files this run trains on (key, sha256, rows).
   * The list lives in S3, not in the execution state, so the state stays small however many files a model has.
   */
  readonly dataManifestKey: string;
  readonly dataSha256: string;
  readonly files: number;
  readonly rows: number;
  readonly algorithms: readonly string[];
  readonly seed: number;
  /** Where the candidates train, and why (core/pipeline/training-engine.ts). */
  readonly engine: 'lambda' | 'managed';
  readonly engineReason: string;
}

/** One file of a run's training data, as runs/<model>/<runId>/data.json lists it. */
export interface DataFile {
  readonly key: string;
  readonly sha256: string;
  readonly rows: number;
  readonly bytes: number;
  readonly processedAt: string;
  /** Rows of the upload the data contract dropped (bad values, unknown labels), from its report. */
  readonly droppedByContract?: number;
}

/** The training window a spec may set: the newest files within every bound given. */
export interface TrainingWindow {
  readonly files?: number;
  readonly rows?: number;
  readonly days?: number;
}

/** What runs/<model>/<runId>/data.json holds. */
export interface DataManifest {
  readonly model: string;
  readonly runId: string;
  readonly createdAt: string;
  /** The spec's window, or undefined: every processed file. */
  readonly window?: TrainingWindow;
  /** processed/ files the model had when the run started; `files` is the part inside the window. */
  readonly availableFiles: number;
  readonly files: readonly DataFile[];
  /** sha256 over the files' keys and sha256s, in order. */
  readonly sha256: string;
  /**
   * runs/<model>/<runId>/data.csv: the files' rows in this order under one header, so each Map item
   * and Evaluate read one object instead of every file again (row ranges follow from `rows`).
   */
  readonly snapshotKey: string;
}

/** One Map item: the state machine builds it from $.model, $.prepare and $$.Map.Item.Value. */
export interface TrainItem {
  readonly model: string;
  readonly runId: string;
  readonly dataManifestKey: string;
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
  /** The selection scores: k-fold means on small data, else the validation part's (see `selection`). */
  readonly validation: Scores;
  readonly holdout: Scores;
  readonly fitSeconds: number;
  /** How many numbers the fitted model holds: ties on the selection metric go to the smaller. */
  readonly parameters: number;
  /** How the grid point was selected, in words (k-fold or the validation part, and on how many rows). */
  readonly selection: string;
  /** What a user should know about the data before trusting the model (ID-like columns, text, merged lines). */
  readonly warnings: readonly string[];
}

/**
 * The rows champion and candidate were compared on.
 * - shared-split: the run's holdout; the champion was split by the same function, so it never trained on them.
 * - rows-after-champion: the champion was split differently (older scheme, other seed, brought from
 *   elsewhere): only holdout rows from files processed after it was registered, which it cannot have seen.
 * - not-comparable: no such rows; the champion could not be scored fairly and the floor decides.
 * - no-champion: nothing to compare with.
 */
export interface Comparison {
  readonly basis: 'shared-split' | 'rows-after-champion' | 'not-comparable' | 'no-champion';
  readonly rows: number;
  /** runs/<model>/<runId>/comparison-rows.txt: the compared rows' content digests, one per line. */
  readonly rowsKey?: string;
}

/** evaluate: the best candidate (by validation) and the champion, both scored on the run's holdout. */
export interface EvaluationResult {
  readonly best: CandidateResult;
  /** Why `best` was chosen (including a tie broken in favour of the simpler model). */
  readonly selection: string;
  /** The best candidate's scores on the comparison rows (the gate's input). */
  readonly candidate: Scores;
  readonly champion?: { readonly version: number; readonly holdout: Scores };
  /**
   * The champion alias as Evaluate read it (null: none). Register promotes only if it still points
   * there, so every promotion was compared with the version it replaces.
   */
  readonly championAtEvaluation?: number | null;
  readonly comparison: Comparison;
  readonly decision: { readonly promote: boolean; readonly reason: string };
}

/** register: the new version, and the alias it was given. */
export interface RegistrationResult {
  readonly version: number;
  readonly alias: 'champion' | 'challenger';
  readonly promoted: boolean;
  /** Set when the gate promoted but the version is not champion: the champion moved since Evaluate, or a canary could not start. */
  readonly note?: string;
  /** Set when the spec's promotion is a canary plan and the rollout started: the version serves a share of callers, not all. */
  readonly canary?: {
    readonly rolloutId: string;
    readonly weight: number;
    readonly steps: readonly number[];
    readonly bakeSeconds: number;
  };
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
  /** The monitoring report whose drift started the run (trigger drift). */
  readonly driftReport?: string;
  readonly finishedAt: string;
  readonly data: {
    readonly manifestKey: string;
    readonly files: readonly DataFile[];
    readonly availableFiles: number;
    readonly window?: TrainingWindow;
    readonly rows: number;
    readonly sha256: string;
    readonly seed: number;
  };
  /** Where the candidates trained (core/pipeline/training-engine.ts): 'lambda' or 'managed' (ECS Fargate), and why. */
  readonly training?: { readonly engine: 'lambda' | 'managed'; readonly reason: string };
  readonly candidates: readonly CandidateResult[];
  readonly best: string;
  readonly selection: string;
  readonly warnings: readonly string[];
  /** The best candidate's scores on the comparison rows (what the gate compared with the champion's). */
  readonly candidate: Scores;
  readonly champion?: EvaluationResult['champion'];
  /** The champion when the run was evaluated (null: none): the version a promotion replaced. */
  readonly comparedWith: number | null;
  readonly comparison: Comparison;
  readonly decision: EvaluationResult['decision'];
  readonly registration: RegistrationResult;
}

/** What runs/<model>/<runId>/no-new-data.json holds: a run that ended because its upload held only rows already processed. */
export interface NoNewDataRecord {
  readonly model: string;
  readonly execution: string;
  readonly runId: string;
  readonly trigger: string;
  readonly finishedAt: string;
  readonly upload: string;
  readonly reportKey: string;
  readonly rowsIn: number;
  readonly duplicateRows: number;
  readonly message: string;
}
