import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { INFERENCE_METRICS, type InferenceMetricName, METRICS_SERVICES } from '../../core/contracts/metrics';
import * as shared from '../shared/metrics';

/**
 * What the inference function reports, behind a small recorder interface so the app can be
 * tested (and the local platform can watch) without CloudWatch. In AWS the Powertools recorder
 * writes Embedded Metric Format lines to the function's log, which CloudWatch turns into metrics.
 */

export const METRICS_NAMESPACE = shared.METRICS_NAMESPACE;
export const METRICS_SERVICE = METRICS_SERVICES.inference;
/** The metric names (core/contracts/metrics.ts, which the dashboard and alarms import too). */
export { INFERENCE_METRICS };

export type { InferenceMetricName };
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
  options: { readonly metrics?: Metrics; readonly listener?: MetricListener; readonly emit?: boolean } = {},
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
