/**
 * The production data loop's shared shapes (issue 14): what the inference function captures and
 * accepts as feedback, the baseline a version carries from training, the monitoring job's report,
 * where each lives in the data bucket, and the metric names. The inference function, the
 * monitoring job, the constructs (grants, Firehose prefixes, lifecycle rules, dashboards) and the
 * local platform all import them from here.
 *
 *   capture/<model>/date=YYYY-MM-DD/hour=HH/<object>     JSON lines of CaptureRecord (Firehose, or the local platform)
 *   capture-errors/<error type>/date=YYYY-MM-DD/<object> Firehose error output: JSON lines, each a source record it could not partition or deliver (AWS only)
 *   feedback/<model>/date=YYYY-MM-DD/<time>-<id>.jsonl   JSON lines of FeedbackRecord (the feedback endpoint)
 *   monitoring/<model>/<time>.json                       MonitoringReport (the monitoring job)
 *   monitoring-state/<model>/drift-retrain.json          DriftRetrainState (the cool-down, written conditionally)
 */

export const CAPTURE_PREFIX = 'capture/';
/**
 * Where Firehose puts what it could not partition or deliver, by error type (`partitioning-failed`,
 * `processing-failed`, ...): the raw source records (any model's) with the error. Personal data
 * like capture/, and captured records all the same: the monitoring job reads them too.
 */
export const CAPTURE_ERRORS_PREFIX = 'capture-errors/';
export const FEEDBACK_PREFIX = 'feedback/';
export const MONITORING_PREFIX = 'monitoring/';
export const MONITORING_STATE_PREFIX = 'monitoring-state/';

/** The log line marker the CloudWatch Logs subscription filter selects on: `{ $.kind = "inference-capture" }`. */
export const CAPTURE_KIND = 'inference-capture';

const day = (time: Date) => time.toISOString().slice(0, 10);
const hour = (time: Date) => time.toISOString().slice(11, 13);
/** 2026-11-30T19:04:05.123Z -> 20261130T190405123Z: sorts like the time, no ':' in keys. */
export const compactTime = (time: Date) => time.toISOString().replace(/[-:.]/g, '');

/** The date partition the capture of `time` lands in (Firehose uses the record's arrival time; the local platform the record's time). */
export const captureDayPrefix = (model: string, time: Date) => `${CAPTURE_PREFIX}${model}/date=${day(time)}/`;
export const captureObjectPrefix = (model: string, time: Date) => `${captureDayPrefix(model, time)}hour=${hour(time)}/`;
/** The date partition of one Firehose error type (a folder under CAPTURE_ERRORS_PREFIX), by arrival time like capture/. */
export const captureErrorsDayPrefix = (errorType: string, time: Date) =>
  `${CAPTURE_ERRORS_PREFIX}${errorType}/date=${day(time)}/`;
export const feedbackDayPrefix = (model: string, time: Date) => `${FEEDBACK_PREFIX}${model}/date=${day(time)}/`;
export const feedbackKey = (model: string, time: Date, requestId: string) =>
  `${feedbackDayPrefix(model, time)}${compactTime(time)}-${requestId}.jsonl`;
export const monitoringReportKey = (model: string, time: Date) =>
  `${MONITORING_PREFIX}${model}/${compactTime(time)}.json`;
export const driftRetrainStateKey = (model: string) => `${MONITORING_STATE_PREFIX}${model}/drift-retrain.json`;

/** One answered instance, as the monitoring job reads it (a CapturedRequest expands into these; large requests are written as these). */
export interface CaptureRecord {
  readonly kind: typeof CAPTURE_KIND;
  /** The instance's inference id (core/monitoring/inference-id.ts). */
  readonly inferenceId: string;
  /** When the answer was built (ISO 8601). */
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly variant: 'champion' | 'canary';
  /** The feature values as the caller sent them, by feature name (null: missing); not imputed or encoded. */
  readonly features: Readonly<Record<string, number | string | null>>;
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
  /** Milliseconds the request took from the answering version being ready to the answer (shared by a batch's instances). */
  readonly latencyMs: number;
}

/**
 * One captured request, as the inference function writes it when it can (one log line): the
 * request body and the answer body as they were sent, so capturing costs a copy of text already
 * there instead of serialising every instance again. The monitoring job expands it into one
 * CaptureRecord per instance (core/monitoring/captured-request.ts). A request whose line would
 * pass CloudWatch Logs' 256 KB event limit is captured as CaptureRecord lines instead.
 */
export interface CapturedRequest {
  readonly kind: typeof CAPTURE_KIND;
  /** The request's inference id (x-inference-id); the instances' ids are in the answer. */
  readonly requestId: string;
  readonly time: string;
  readonly model: string;
  readonly version: number;
  readonly variant: 'champion' | 'canary';
  readonly latencyMs: number;
  /** The answering version's feature names in schema order: what instances sent as arrays mean. */
  readonly featureNames: readonly string[];
  /** The request body as sent: {"features": ...}, {"instances": [...]} or an array. */
  readonly request: unknown;
  /** The answer body (200): its predictions carry each instance's inference id. */
  readonly response: {
    readonly predictions: readonly {
      readonly inferenceId: string;
      readonly label: string;
      readonly probabilities: Readonly<Record<string, number>>;
    }[];
  };
}

/** One true label sent back for an inference id (one JSON line each in a feedback object). */
export interface FeedbackRecord {
  /** The instance's inference id, normalised (a single-instance request's id is its instance 0). */
  readonly inferenceId: string;
  readonly label: string;
  readonly model: string;
  /** When the platform received it (ISO 8601); the latest label for an id wins. */
  readonly receivedAt: string;
}

// Baselines: what the drift tests need, computed at training time from the version's training
// rows (the train part of the split) and its holdout predictions, stored in the manifest.

export interface NumericBaseline {
  readonly feature: string;
  readonly type: 'numeric';
  /** Interior bin edges, strictly ascending: bins are (-inf, e0], (e0, e1], ..., (e_last, +inf). */
  readonly edges: readonly number[];
  /** Rows per bin (edges.length + 1 entries). */
  readonly counts: readonly number[];
  /** Rows with no value. */
  readonly missing: number;
  /** The training range; values outside it are "out of range". */
  readonly min: number;
  readonly max: number;
}

export interface CategoricalBaseline {
  readonly feature: string;
  readonly type: 'categorical';
  /** Rows per category seen in training. */
  readonly counts: Readonly<Record<string, number>>;
  readonly missing: number;
}

export interface TextBaseline {
  readonly feature: string;
  readonly type: 'text';
  /** Token-count bins: interior edges and rows per bin, like NumericBaseline. */
  readonly lengthEdges: readonly number[];
  readonly lengthCounts: readonly number[];
  /** The commonest training tokens (at most TEXT_VOCABULARY_SIZE), against which coverage is measured. */
  readonly vocabulary: readonly string[];
  /** Per-row share of tokens in `vocabulary`, binned at COVERAGE_EDGES: rows per bin. */
  readonly coverageCounts: readonly number[];
  readonly missing: number;
}

export type FeatureBaseline = NumericBaseline | CategoricalBaseline | TextBaseline;

export const TEXT_VOCABULARY_SIZE = 2000;
/** Interior edges of the per-row vocabulary coverage bins (a share of tokens, 0..1). */
export const COVERAGE_EDGES: readonly number[] = [0.25, 0.5, 0.75, 0.9, 0.999999];

export interface Baseline {
  /** Training rows the feature baselines were computed from. */
  readonly rows: number;
  readonly features: readonly FeatureBaseline[];
  /** The version's predicted labels on its holdout: rows per class (every class listed, 0 allowed). */
  readonly predictions: Readonly<Record<string, number>>;
}

// The monitoring job's report.

export type DriftVerdict = 'stable' | 'moderate' | 'drift' | 'not-judged';

export interface FeatureDriftResult {
  readonly feature: string;
  readonly type: 'numeric' | 'categorical' | 'text';
  /** 'psi' for every type (text: the larger of the token-count and vocabulary-coverage PSIs). */
  readonly test: 'psi';
  readonly score: number | null;
  readonly threshold: number;
  readonly verdict: DriftVerdict;
  /** Records with no value for this feature. */
  readonly missingShare: number;
  /** Numeric: share of values outside the training range. */
  readonly outOfRangeShare?: number;
  /** Categorical: share of values not seen in training. */
  readonly unseenShare?: number;
  /** Categorical: Pearson's chi-square goodness of fit against the baseline frequencies. */
  readonly chiSquare?: { readonly statistic: number; readonly degreesOfFreedom: number; readonly pValue: number };
}

export interface LiveAccuracy {
  readonly version: number;
  /** Captured records of this version with a feedback label. */
  readonly labelled: number;
  readonly accuracy: number | null;
  readonly macroF1: number | null;
}

export interface MonitoringReport {
  readonly model: string;
  readonly generatedAt: string;
  /** Captured records with time in [from, to). */
  readonly window: { readonly from: string; readonly to: string };
  readonly records: number;
  readonly recordsByVersion: Readonly<Record<string, number>>;
  /** The champion version whose baseline the records were compared with; null when it has none. */
  readonly baselineVersion: number | null;
  readonly minRecords: number;
  /** False when fewer than minRecords were captured (or there is no baseline): verdicts are 'not-judged'. */
  readonly judged: boolean;
  readonly threshold: number;
  readonly features: readonly FeatureDriftResult[];
  /** The baseline version's predicted-label distribution, live vs its holdout. */
  readonly predictions: {
    readonly test: 'psi';
    readonly score: number | null;
    readonly verdict: DriftVerdict;
    readonly live: Readonly<Record<string, number>>;
    readonly baseline: Readonly<Record<string, number>>;
  };
  readonly feedback: { readonly received: number; readonly matched: number; readonly unmatched: number };
  readonly liveAccuracy: readonly LiveAccuracy[];
  /** Features at or above the threshold (prediction drift is reported, not a retrain reason). */
  readonly drifted: readonly string[];
  readonly retrain: { readonly started: boolean; readonly execution?: string; readonly reason: string };
}

/** The cool-down: the last drift retrain this model's monitoring started. */
export interface DriftRetrainState {
  readonly startedAt: string;
  readonly execution: string;
  readonly reportKey: string;
}

/** The monitoring settings of a model spec, with defaults applied (core/pipeline/model-spec.ts `monitoring`). */
export interface MonitoringSettings {
  readonly capture: { readonly enabled: boolean; readonly sampleRate: number; readonly retentionDays: number };
  readonly schedule: string;
  readonly windowHours: number;
  readonly minRecords: number;
  readonly driftThreshold: number;
  readonly cooldownHours: number;
  readonly retrainOnDrift: boolean;
  /** Alarm when the champion's live accuracy falls below it. @default - no alarm */
  readonly liveAccuracyFloor?: number;
}

/** PSI conventions (industry practice since credit scoring): < 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant. */
export const PSI_MODERATE = 0.1;
export const DEFAULT_MONITORING: MonitoringSettings = {
  capture: { enabled: true, sampleRate: 1, retentionDays: 30 },
  schedule: 'rate(1 hour)',
  windowHours: 24,
  minRecords: 200,
  driftThreshold: 0.25,
  cooldownHours: 24,
  retrainOnDrift: true,
};

/** Metric names (namespace ServerlessMlops). */
export const MONITORING_METRICS = {
  /** PSI of one feature in the window (only when judged); dimensions model, feature. */
  featureDrift: 'FeatureDrift',
  /** The largest FeatureDrift of the run (what the drift alarm watches); dimension model. */
  maxFeatureDrift: 'MaxFeatureDrift',
  /** PSI of the predicted-label distribution vs the holdout's; dimension model. */
  predictionDrift: 'PredictionDrift',
  /** The champion's accuracy on labelled records in the window (when any); dimension model. */
  liveAccuracy: 'LiveAccuracy',
  /** Captured records in the window; dimension model. */
  capturedRecords: 'CapturedRecords',
  /** Feedback labels joined to a captured record in the window; dimension model. */
  feedbackMatched: 'FeedbackMatched',
  /** 1 when a run started a drift retrain; dimension model. */
  driftRetrains: 'DriftRetrains',
  /** Records in the window the run read from Firehose's error output (capture-errors/), not capture/; dimension model. */
  errorOutputRecords: 'ErrorOutputRecords',
} as const;

/** Inference-side metric names for the loop (the inference function's own list includes them). */
export const CAPTURE_METRICS = {
  /** Instances captured (written to the capture sink); dimension model. */
  capturedInstances: 'CapturedInstances',
  /** Captures that failed (never fails the request); dimension model. */
  captureErrors: 'CaptureErrors',
  /** Feedback labels accepted; dimension model. */
  feedbackLabels: 'FeedbackLabels',
} as const;
