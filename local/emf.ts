import { z } from 'zod';
import type { MetricRecord, MetricUnitName } from '../lambdas/shared/metrics';

/**
 * Reads CloudWatch Embedded Metric Format back into metric records. Locally the pipeline Lambda
 * runs in a child process and Powertools' Metrics writes one EMF entry per line to its stdout,
 * between Logger's JSON lines and anything else the code prints; the local platform reads that
 * output the way CloudWatch Logs reads a function's log, so the dashboard sees the metrics the
 * deployed function would publish, written by the same code.
 */

const UNITS: ReadonlySet<string> = new Set<MetricUnitName>(['Count', 'Milliseconds', 'Seconds', 'None']);

/** Powertools adds `service` to every entry; the records leave it out (see MetricRecord). */
const IMPLICIT_DIMENSIONS: ReadonlySet<string> = new Set(['service']);

/** The part of the EMF specification (the `_aws` member) that says where the metrics are. */
const emfEntry = z.looseObject({
  _aws: z.looseObject({
    Timestamp: z.number(),
    CloudWatchMetrics: z.array(
      z.looseObject({
        Namespace: z.string(),
        Dimensions: z.array(z.array(z.string())),
        Metrics: z.array(z.looseObject({ Name: z.string().min(1), Unit: z.string().optional() })),
      }),
    ),
  }),
});

const metricValue = z.union([z.number(), z.array(z.number())]);

/**
 * The records in one line of output: one per metric value (Powertools writes repeated values of
 * a metric as an array). Anything that is not a whole, valid EMF entry (log lines, other text,
 * a dimension or value missing, a value that is not a number) gives none, like CloudWatch, which
 * extracts nothing from an invalid entry. Never throws.
 */
export function parseEmfLine(line: string): MetricRecord[] {
  const text = line.trim();
  // Cheap refusal first: most lines are Logger's JSON or plain text.
  if (!text.startsWith('{') || !text.includes('"_aws"')) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const entry = emfEntry.safeParse(json);
  if (!entry.success) return [];
  const fields: Readonly<Record<string, unknown>> = entry.data;

  const records: MetricRecord[] = [];
  for (const directive of entry.data._aws.CloudWatchMetrics) {
    const dimensions: Record<string, string> = {};
    for (const name of directive.Dimensions.flat()) {
      const value = fields[name];
      if (typeof value !== 'string') return [];
      if (!IMPLICIT_DIMENSIONS.has(name)) dimensions[name] = value;
    }
    for (const metric of directive.Metrics) {
      const values = metricValue.safeParse(fields[metric.Name]);
      if (!values.success) return [];
      const unit = metric.Unit !== undefined && UNITS.has(metric.Unit) ? (metric.Unit as MetricUnitName) : 'None';
      for (const value of [values.data].flat())
        records.push({ name: metric.Name, unit, value, dimensions: { ...dimensions } });
    }
  }
  return records;
}
