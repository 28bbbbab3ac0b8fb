import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE, type MetricsService } from '../../core/contracts/metrics';

/** One of the platform's own metrics: the contract's namespace, the emitting service and the record's dimensions. */
export function customMetric(
  service: MetricsService,
  metricName: string,
  dimensions: Record<string, string>,
  statistic: string,
  label: string,
  period: Duration,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service, ...dimensions },
    statistic,
    label,
    period,
  });
}
