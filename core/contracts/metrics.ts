import { CAPTURE_METRICS, MONITORING_METRICS } from '../monitoring/contract';

/**
 * The platform's metric contract: namespace, the `service` dimension of each function, every
 * custom metric name, and the dimension names they carry. The handlers record these names
 * (lambdas/*\/metrics.ts types their recorders with them) and the constructs draw dashboards,
 * alarms and rollout gates from them (lib/monitoring/, lib/constructs/rollout.ts). Plain data, so
 * lib/ reads it at synth without loading Powertools or any other runtime library.
 *
 * The data loop's names (CAPTURE_METRICS, MONITORING_METRICS) live with the rest of its contract
 * in core/monitoring/contract.ts and are re-exported here, so this module lists them all.
 */
export { CAPTURE_METRICS, MONITORING_METRICS };

export const METRICS_NAMESPACE = 'ServerlessMlops';

/** The `service` dimension each function's metrics carry (its POWERTOOLS_SERVICE_NAME). */
export const METRICS_SERVICES = {
  inference: 'inference',
  pipeline: 'pipeline',
  monitoring: 'monitoring',
} as const;
export type MetricsService = (typeof METRICS_SERVICES)[keyof typeof METRICS_SERVICES];

/** Dimension names, as the functions record them and the dashboard's SEARCH expressions select on. */
export const METRIC_DIMENSIONS = {
  service: 'service',
  model: 'model',
  version: 'version',
  class: 'class',
  variant: 'variant',
  outcome: 'outcome',
  metric: 'metric',
  feature: 'feature',
} as const;

/** The inference function's metric names, exactly as the CloudWatch dashboard and alarms use them. */
export const INFERENCE_METRICS = {
  /** Count of predicted rows; dimensions model, version, class. */
  predictions: 'Predictions',
  /** Milliseconds spent in the backend per request (all rows); dimension model. */
  inferenceLatency: 'InferenceLatency',
  /** Milliseconds to fetch, verify and open a model version; dimension model. */
  modelLoadTime: 'ModelLoadTime',
  /** Count of model versions refused (checksum mismatch, unloadable) or not fetchable; dimension model. */
  modelLoadFailures: 'ModelLoadFailures',
  /** Count of times the bundled model was served because the registry was unreachable; dimension model. */
  bundledModelFallbacks: 'BundledModelFallbacks',
  /** The version that answered, per request (plot its Maximum); dimension model. */
  modelVersionInService: 'ModelVersionInService',
  /** One per execution environment, at its first request; no dimensions beyond service. */
  coldStarts: 'ColdStart',

  // Safe rollout (core/registry/routing.ts). The rollout state machine's gate and the alarms read
  // these by name: champion vs canary, each with the same dimension sets.

  /** Count of routing.json reads that could not be used (not JSON, not a routing document): the champion serves everything; dimension model. */
  routingDocumentErrors: 'RoutingDocumentErrors',
  /** One per predict request that reached a model (answered, or refused after the model was resolved); dimensions model, variant. */
  variantRequests: 'VariantRequests',
  /** Count of 4xx answers after the model was resolved (e.g. a feature the variant's schema refuses); dimensions model, variant. */
  variantClientErrors: 'VariantClientErrors',
  /** Count of 5xx answers after the model was resolved (the backend failed on a valid request); dimensions model, variant. */
  variantServerErrors: 'VariantServerErrors',
  /** Milliseconds from the answering version being ready to the answer built (its validation and model call; not a version's first load, which is ModelLoadTime, nor the shadow) per request; dimensions model, variant. */
  variantLatency: 'VariantLatency',
  /** Count of predicted rows; dimensions model, variant, class. */
  variantPredictions: 'VariantPredictions',
  /** Count of rows the shadow version scored; dimension model. */
  shadowPredictions: 'ShadowPredictions',
  /** Share (0..1) of a request's rows where the shadow's label equals the answer's (plot its Average); dimension model. */
  shadowAgreement: 'ShadowAgreement',
  /** Mean over a request's rows of the largest absolute class-probability difference, shadow vs answer (plot its Average); dimension model. */
  shadowProbabilityDelta: 'ShadowProbabilityDelta',
  /** Milliseconds the shadow took per request (load if needed, scoring, comparison), after the answer was built; dimension model. */
  shadowLatency: 'ShadowLatency',
  /** Count of requests the shadow could not score (load failure, backend error, other schema); never an error for the caller; dimension model. */
  shadowErrors: 'ShadowErrors',

  // The production data loop (core/monitoring/contract.ts): capture and feedback.

  /** Count of instances written to the capture sink; dimension model. */
  capturedInstances: CAPTURE_METRICS.capturedInstances,
  /** Count of requests whose capture failed (the answer is unaffected); dimension model. */
  captureErrors: CAPTURE_METRICS.captureErrors,
  /** Count of feedback labels accepted; dimension model. */
  feedbackLabels: CAPTURE_METRICS.feedbackLabels,
} as const;

/** The retraining pipeline's metric names, exactly as the dashboard and alarms use them. */
export const PIPELINE_METRICS = {
  /** One per finished run; dimensions model, outcome (promoted | canary | rejected | no-new-data). */
  runs: 'RetrainingRuns',
  /** Seconds from the execution's start to the end of register; dimension model. */
  runDuration: 'RetrainingDuration',
  /** The best candidate's holdout score on the gate metric; dimensions model, metric. */
  candidateScore: 'CandidateScore',
  /** The champion's score on the same holdout rows; dimensions model, metric. */
  championScore: 'ChampionScore',
  /** 1 when the run promoted its candidate, else 0; dimension model. */
  promoted: 'Promoted',
  /** One per failed run (recorded by the failure path); dimension model. */
  runFailures: 'RetrainingFailures',
  /** One per uploaded file sent to quarantine/; dimension model. */
  quarantinedFiles: 'QuarantinedFiles',
} as const;

export type InferenceMetricName = (typeof INFERENCE_METRICS)[keyof typeof INFERENCE_METRICS];
export type PipelineMetricName = (typeof PIPELINE_METRICS)[keyof typeof PIPELINE_METRICS];
export type MonitoringMetricName = (typeof MONITORING_METRICS)[keyof typeof MONITORING_METRICS];

/** Every custom metric name, by the service that records it (namespace METRICS_NAMESPACE). */
export const METRICS_BY_SERVICE: Readonly<Record<MetricsService, readonly string[]>> = {
  inference: Object.values(INFERENCE_METRICS),
  pipeline: Object.values(PIPELINE_METRICS),
  monitoring: Object.values(MONITORING_METRICS),
};
