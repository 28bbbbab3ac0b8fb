import { METRICS_SERVICES, MONITORING_METRICS, type MonitoringMetricName } from '../../core/contracts/metrics';
import type { MonitoringReport } from '../../core/monitoring/contract';
import type { MonitoringReadStats } from '../../core/monitoring/job';
import type { MetricsRecorder } from '../shared/metrics';

/** The monitoring function's metric names (core/contracts/metrics.ts, which the dashboard and alarms import too). */
export type { MonitoringMetricName };
export type MonitoringRecorder = MetricsRecorder<MonitoringMetricName>;

export const MONITORING_METRICS_SERVICE = METRICS_SERVICES.monitoring;

/** For deps that report nothing. */
export const NO_METRICS: MonitoringRecorder = { record: () => undefined };

/**
 * A run's metrics, from its report. Drift is only reported when judged (a PSI over a handful of
 * records is noise the alarm must not see); CapturedRecords, FeedbackMatched and DriftRetrains
 * every run, so their graphs show zero rather than a gap. `championVersion` picks the live
 * accuracy the LiveAccuracy metric (and its alarm) follows.
 */
export function recordReportMetrics(
  recorder: MonitoringRecorder,
  report: MonitoringReport,
  championVersion: number | null,
): void {
  const model = report.model;
  recorder.record({
    name: MONITORING_METRICS.capturedRecords,
    unit: 'Count',
    value: report.records,
    dimensions: { model },
  });
  recorder.record({
    name: MONITORING_METRICS.feedbackMatched,
    unit: 'Count',
    value: report.feedback.matched,
    dimensions: { model },
  });
  recorder.record({
    name: MONITORING_METRICS.driftRetrains,
    unit: 'Count',
    value: report.retrain.started ? 1 : 0,
    dimensions: { model },
  });
  if (report.judged) {
    let max: number | undefined;
    for (const result of report.features) {
      if (result.score === null) continue;
      recorder.record({
        name: MONITORING_METRICS.featureDrift,
        unit: 'None',
        value: result.score,
        dimensions: { model, feature: result.feature },
      });
      max = Math.max(max ?? result.score, result.score);
    }
    if (max !== undefined)
      recorder.record({ name: MONITORING_METRICS.maxFeatureDrift, unit: 'None', value: max, dimensions: { model } });
  }
  if (report.predictions.verdict !== 'not-judged' && report.predictions.score !== null) {
    recorder.record({
      name: MONITORING_METRICS.predictionDrift,
      unit: 'None',
      value: report.predictions.score,
      dimensions: { model },
    });
  }
  const champion = report.liveAccuracy.find((live) => live.version === championVersion);
  if (champion?.accuracy !== null && champion?.accuracy !== undefined) {
    recorder.record({
      name: MONITORING_METRICS.liveAccuracy,
      unit: 'None',
      value: champion.accuracy,
      dimensions: { model },
    });
  }
}

/**
 * What a run read that the report does not say: this model's records that came from Firehose's
 * error output (capture-errors/), every run, so the graph shows zero rather than a gap. Above zero,
 * the capture path is routing records around capture/ (batches over the 500-record de-aggregation
 * limit, lines it could not parse); the job still counts them.
 */
export function recordReadMetrics(recorder: MonitoringRecorder, model: string, read: MonitoringReadStats): void {
  recorder.record({
    name: MONITORING_METRICS.errorOutputRecords,
    unit: 'Count',
    value: read.errorOutputRecords,
    dimensions: { model },
  });
}
