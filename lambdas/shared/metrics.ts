import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../../core/contracts/metrics';

/**
 * Metrics every function reports the same way: a small recorder interface (so apps are tested,
 * and the local platform can watch, without CloudWatch) and its Powertools implementation, which
 * writes Embedded Metric Format lines that CloudWatch turns into metrics. Each function declares
 * its own metric names and instantiates the types with them.
 */

export { METRICS_NAMESPACE };

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
  /**
   * Several metrics with the same dimensions as one entry (one EMF line instead of one each: a
   * line costs tens of microseconds on a request path). @default - `record` for each
   */
  recordAll?(metrics: readonly MetricRecord<N>[]): void;
}

/** Records metrics that share their dimensions together when the recorder can, else one by one. */
export function recordTogether<N extends string>(
  recorder: MetricsRecorder<N>,
  metrics: readonly MetricRecord<N>[],
): void {
  if (recorder.recordAll) recorder.recordAll(metrics);
  else for (const metric of metrics) recorder.record(metric);
}

const UNITS: Readonly<Record<MetricUnitName, (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
};

/**
 * Publishes each record as its own EMF entry (records carry different dimension sets, and one EMF
 * entry applies all of its dimension sets to all of its metrics), and a recordAll group of records
 * with the same dimensions as one entry. One Metrics instance serves every
 * record (add the record's dimensions and value, publish: publishing clears both); Powertools'
 * singleMetric() would build a new instance, re-read the environment and construct a Console per
 * record, which measured ~30% of a warm request's CPU. POWERTOOLS_METRICS_DISABLED=true (tests,
 * the local platform, which watches through the listener) skips Powertools altogether.
 */
export function powertoolsRecorder<N extends string>(options: {
  readonly serviceName: string;
  readonly metrics?: Metrics;
  readonly listener?: MetricListener<N>;
  /**
   * Whether to write EMF lines to stdout. The listener sees every record either way.
   * @default - yes, unless POWERTOOLS_METRICS_DISABLED is "true" (and no `metrics` is given)
   */
  readonly emit?: boolean;
}): MetricsRecorder<N> {
  const disabled =
    options.emit === undefined
      ? options.metrics === undefined && (process.env.POWERTOOLS_METRICS_DISABLED ?? '').trim().toLowerCase() === 'true'
      : !options.emit;
  const metrics =
    options.metrics ??
    new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
      serviceName: process.env.POWERTOOLS_SERVICE_NAME || options.serviceName,
    });
  const publish = (batch: readonly MetricRecord<N>[]) => {
    for (const metric of batch) options.listener?.(metric);
    if (disabled || batch.length === 0) return;
    try {
      const dimensions = batch[0].dimensions;
      if (Object.keys(dimensions).length > 0) metrics.addDimensions({ ...dimensions });
      for (const metric of batch) metrics.addMetric(metric.name, UNITS[metric.unit], metric.value);
      metrics.publishStoredMetrics();
    } catch {
      // A metric that cannot be written must never fail the work it describes; drop what is half-added.
      metrics.clearMetrics();
      metrics.clearDimensions();
    }
  };
  return {
    record(metric) {
      publish([metric]);
    },
    recordAll(batch) {
      // One entry takes one dimension set: metrics with other dimensions go in their own.
      const first = batch[0]?.dimensions;
      const same = (d: Readonly<Record<string, string>>) => {
        const keys = Object.keys(d);
        return first !== undefined && keys.length === Object.keys(first).length && keys.every((k) => d[k] === first[k]);
      };
      if (batch.every((m) => same(m.dimensions))) publish(batch);
      else for (const metric of batch) publish([metric]);
    },
  };
}

/** Keeps records in memory (and passes them on); for tests and the local platform. */
export function memoryRecorder<N extends string>(
  listener?: MetricListener<N>,
): MetricsRecorder<N> & { readonly records: MetricRecord<N>[] } {
  const records: MetricRecord<N>[] = [];
  return {
    records,
    record(metric) {
      records.push(metric);
      listener?.(metric);
    },
  };
}
