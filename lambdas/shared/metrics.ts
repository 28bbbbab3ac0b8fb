import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Metrics every function reports the same way: a small recorder interface (so apps are tested,
 * and the local platform can watch, without CloudWatch) and its Powertools implementation, which
 * writes Embedded Metric Format lines that CloudWatch turns into metrics. Each function declares
 * its own metric names and instantiates the types with them.
 */

export const METRICS_NAMESPACE = 'ServerlessMlops';

export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds' | 'None';

export interface MetricRecord<N extends string = string> {
  readonly name: N;
  readonly unit: MetricUnitName;
  readonly value: number;
  /** Besides these, Powertools adds `service` (POWERTOOLS_SERVICE_NAME, or the function's default). */
  readonly dimensions: Readonly<Record<string, string>>;
}

export type MetricListener<N extends string = string> = (record: MetricRecord<N>) => void;

export interface MetricsRecorder<N extends string = string> {
  record(metric: MetricRecord<N>): void;
}

const UNITS: Readonly<Record<MetricUnitName, (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
};

/**
 * Publishes each record as its own EMF entry (Powertools' single-metric mode): records carry
 * different dimension sets, and one EMF entry applies all of its dimension sets to all of its
 * metrics. POWERTOOLS_METRICS_DISABLED=true keeps them off stdout (tests); the listener still runs.
 */
export function powertoolsRecorder<N extends string>(options: { readonly serviceName: string; readonly metrics?: Metrics; readonly listener?: MetricListener<N> }): MetricsRecorder<N> {
  const metrics =
    options.metrics ??
    new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
      serviceName: process.env.POWERTOOLS_SERVICE_NAME || options.serviceName,
    });
  return {
    record(metric) {
      options.listener?.(metric);
      try {
        const single = metrics.singleMetric();
        if (Object.keys(metric.dimensions).length > 0) single.addDimensions({ ...metric.dimensions });
        single.addMetric(metric.name, UNITS[metric.unit], metric.value);
      } catch {
        // A metric that cannot be written must never fail the work it describes.
      }
    },
  };
}

/** Keeps records in memory (and passes them on); for tests and the local platform. */
export function memoryRecorder<N extends string>(listener?: MetricListener<N>): MetricsRecorder<N> & { readonly records: MetricRecord<N>[] } {
  const records: MetricRecord<N>[] = [];
  return {
    records,
    record(metric) {
      records.push(metric);
      listener?.(metric);
    },
  };
}
