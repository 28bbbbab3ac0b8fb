import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * What the inference function reports, behind a small recorder interface so the app can be
 * tested (and the local platform can watch) without CloudWatch. In AWS the Powertools recorder
 * writes Embedded Metric Format lines to the function's log, which CloudWatch turns into metrics.
 */

export const METRICS_NAMESPACE = 'ServerlessMlops';
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
} as const;

export type InferenceMetricName = (typeof INFERENCE_METRICS)[keyof typeof INFERENCE_METRICS];
export type MetricUnitName = 'Count' | 'Milliseconds' | 'None';

export interface MetricRecord {
  readonly name: InferenceMetricName;
  readonly unit: MetricUnitName;
  readonly value: number;
  /** Besides these, Powertools adds `service` (POWERTOOLS_SERVICE_NAME, default "inference"). */
  readonly dimensions: Readonly<Record<string, string>>;
}

export type MetricListener = (record: MetricRecord) => void;

export interface MetricsRecorder {
  record(metric: MetricRecord): void;
}

/** The structured log the app writes to; Powertools' Logger in AWS. */
export interface AppLog {
  info(message: string, attributes?: Readonly<Record<string, unknown>>): void;
  warn(message: string, attributes?: Readonly<Record<string, unknown>>): void;
  error(message: string, attributes?: Readonly<Record<string, unknown>>): void;
}

export const silentLog: AppLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** AppLog over Powertools' Logger (JSON lines; POWERTOOLS_LOG_LEVEL=SILENT keeps tests quiet). */
export function powertoolsLog(logger: Logger): AppLog {
  const write = (level: 'info' | 'warn' | 'error') => (message: string, attributes?: Readonly<Record<string, unknown>>) =>
    attributes === undefined ? logger[level](message) : logger[level](message, { ...attributes });
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

const UNITS: Readonly<Record<MetricUnitName, (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
  None: MetricUnit.NoUnit,
};

/**
 * Publishes each record as its own EMF entry (Powertools' single-metric mode): records carry
 * different dimension sets, and one EMF entry applies all of its dimension sets to all of its
 * metrics. POWERTOOLS_METRICS_DISABLED=true keeps them off stdout (tests); the listener still runs.
 */
export function powertoolsRecorder(options: { readonly metrics?: Metrics; readonly listener?: MetricListener } = {}): MetricsRecorder {
  const metrics =
    options.metrics ??
    new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
      serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE,
    });
  return {
    record(metric) {
      options.listener?.(metric);
      try {
        const single = metrics.singleMetric();
        if (Object.keys(metric.dimensions).length > 0) single.addDimensions({ ...metric.dimensions });
        single.addMetric(metric.name, UNITS[metric.unit], metric.value);
      } catch {
        // A metric that cannot be written must never fail the request it describes.
      }
    },
  };
}

/** Keeps records in memory (and passes them on); for tests and the local platform. */
export function memoryRecorder(listener?: MetricListener): MetricsRecorder & { readonly records: MetricRecord[] } {
  const records: MetricRecord[] = [];
  return {
    records,
    record(metric) {
      records.push(metric);
      listener?.(metric);
    },
  };
}

/** Milliseconds since `start` (a performance.now() reading), to 0.01 ms. */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 100) / 100;
}
