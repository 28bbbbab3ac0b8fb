import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { CAPTURE_METRICS } from '../../core/monitoring/contract';
import * as shared from '../shared/metrics';

/**
 * What the inference function reports, behind a small recorder interface so the app can be
 * tested (and the local platform can watch) without CloudWatch. In AWS the Powertools recorder
 * writes Embedded Metric Format lines to the function's log, which CloudWatch turns into metrics.
 */

export const METRICS_NAMESPACE = shared.METRICS_NAMESPACE;
export const METRICS_SERVICE = 'inference';

/** The metric names, exactly as the CloudWatch dashboard and alarms use them. */
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

export type InferenceMetricName = (typeof INFERENCE_METRICS)[keyof typeof INFERENCE_METRICS];
export type MetricUnitName = shared.MetricUnitName;
export type MetricRecord = shared.MetricRecord<InferenceMetricName>;
export type MetricListener = shared.MetricListener<InferenceMetricName>;
export type MetricsRecorder = shared.MetricsRecorder<InferenceMetricName>;

/** The structured log the app writes to; Powertools' Logger in AWS. */
export interface AppLog {
  info(message: string, attributes?: Readonly<Record<string, unknown>>): void;
  warn(message: string, attributes?: Readonly<Record<string, unknown>>): void;
  error(message: string, attributes?: Readonly<Record<string, unknown>>): void;
}

export const silentLog: AppLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** AppLog over Powertools' Logger (JSON lines; POWERTOOLS_LOG_LEVEL=SILENT keeps tests quiet). */
export function powertoolsLog(logger: Logger): AppLog {
  const write =
    (level: 'info' | 'warn' | 'error') => (message: string, attributes?: Readonly<Record<string, unknown>>) =>
      attributes === undefined ? logger[level](message) : logger[level](message, { ...attributes });
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

/** Powertools EMF recorder for the inference function's metrics (see lambdas/shared/metrics.ts). */
export function powertoolsRecorder(
  options: { readonly metrics?: Metrics; readonly listener?: MetricListener } = {},
): MetricsRecorder {
  return shared.powertoolsRecorder<InferenceMetricName>({ ...options, serviceName: METRICS_SERVICE });
}

/** Keeps records in memory (and passes them on); for tests and the local platform. */
export function memoryRecorder(listener?: MetricListener): MetricsRecorder & { readonly records: MetricRecord[] } {
  return shared.memoryRecorder<InferenceMetricName>(listener);
}

/** Milliseconds since `start` (a performance.now() reading), to 0.01 ms. */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 100) / 100;
}
