import { METRICS_SERVICES, PIPELINE_METRICS, type PipelineMetricName } from '../../core/contracts/metrics';
import type { MetricsRecorder } from '../shared/metrics';

/** The pipeline's metric names (core/contracts/metrics.ts, which the dashboard and alarms import too). */
export { PIPELINE_METRICS };
export type { PipelineMetricName };
export type PipelineRecorder = MetricsRecorder<PipelineMetricName>;

export const PIPELINE_METRICS_SERVICE = METRICS_SERVICES.pipeline;

/** For deps that report nothing (tests that do not look at metrics). */
export const NO_METRICS: PipelineRecorder = { record: () => undefined };
