import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { CAPTURE_METRICS, METRICS_NAMESPACE, METRICS_SERVICES, MONITORING_METRICS } from '../../core/contracts/metrics';
import { DEFAULT_CAPTURE_BUFFERING } from '../constructs/inference-capture';
import { customMetric } from './custom-metric';

/** The drift monitoring job as MonitoringJob exposes it (a MonitoringJob can be passed as is). */
export interface MonitoredJob {
  readonly fn: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
}

/** The capture path as InferenceCapture exposes it (an InferenceCapture can be passed as is). */
export interface MonitoredCapture {
  /** The Firehose stream's name (the DeliveryStreamName dimension). */
  readonly deliveryStreamName: string;
  /**
   * How long the stream buffers before writing: its DataFreshness is judged against it (CaptureDeliveryFailing).
   * @default DEFAULT_CAPTURE_BUFFERING (lib/constructs/inference-capture.ts, 300 s)
   */
  readonly bufferingInterval?: Duration;
}

export interface DataLoopMetricsProps {
  /** @default - no monitoring job metrics (its methods return undefined) */
  readonly job?: MonitoredJob;
  /** @default - no Firehose metrics (its methods return undefined) */
  readonly capture?: MonitoredCapture;
  /**
   * The period of the inference-side and infrastructure metrics.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
  /**
   * The period of the monitoring job's metrics: one value per run, so one period per run at the
   * default hourly schedule (a longer schedule leaves periods without data, which is not a breach).
   * @default Duration.hours(1)
   */
  readonly runPeriod?: Duration;
}

/**
 * A CloudWatch SEARCH over the FeatureDrift series of one model, one line per feature: feature
 * names are not known at synth. `="..."` is an exact match.
 */
function featureDriftSearchExpression(model: string, period: Duration = Duration.hours(1)): string {
  const schema = `{${METRICS_NAMESPACE},feature,model,service}`;
  return `SEARCH('${schema} MetricName="${MONITORING_METRICS.featureDrift}" service="${METRICS_SERVICES.monitoring}" model="${model}"', 'Maximum', ${period.toSeconds()})`;
}

/**
 * The production data loop's metrics, by name with the unit in the name (like PlatformMetrics):
 * what the monitoring job found per run (service `monitoring`, names from MONITORING_METRICS),
 * what the inference function captured and accepted (service `inference`, CAPTURE_METRICS), and
 * the capture stream and job as AWS sees them.
 */
export class DataLoopMetrics {
  readonly period: Duration;
  readonly runPeriod: Duration;

  constructor(private readonly props: DataLoopMetricsProps = {}) {
    this.period = props.period ?? Duration.minutes(5);
    this.runPeriod = props.runPeriod ?? Duration.hours(1);
  }

  // --- The monitoring job's findings (ServerlessMlops, service=monitoring), one value per run ---

  /** The largest feature PSI of a run: what the DriftDetected alarm watches. */
  maxFeatureDriftMax(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.maxFeatureDrift, { model }, 'Maximum', `${model} max feature PSI`);
  }

  /** One line per feature: its PSI in each run. */
  featureDriftByFeatureMax(model: string): cloudwatch.IMetric {
    return new cloudwatch.SearchExpression({
      expression: featureDriftSearchExpression(model, this.runPeriod),
      label: "${PROP('Dim.feature')}",
      period: this.runPeriod,
    });
  }

  /** PSI of the predicted-label mix against the holdout's. */
  predictionDriftMax(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.predictionDrift, { model }, 'Maximum', `${model} prediction PSI`);
  }

  /** The champion's accuracy on labelled records in the window: the lowest of the period, which LiveAccuracyLow watches. */
  liveAccuracyMin(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.liveAccuracy, { model }, 'Minimum', `${model} live accuracy`);
  }

  /** Captured records in a run's window (a window, not a rate: successive runs overlap). */
  capturedRecordsMax(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.capturedRecords, { model }, 'Maximum', `${model} records in window`);
  }

  /** Feedback labels joined to a captured record in a run's window. */
  feedbackMatchedMax(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.feedbackMatched, { model }, 'Maximum', `${model} labelled in window`);
  }

  /** Drift retrains the job started. */
  driftRetrainsCount(model: string): cloudwatch.IMetric {
    return this.job(MONITORING_METRICS.driftRetrains, { model }, 'Sum', `${model} drift retrains`);
  }

  /** Records in a run's window that came from Firehose's error output (capture-errors/), not capture/<model>/. */
  errorOutputRecordsMax(model: string): cloudwatch.IMetric {
    return this.job(
      MONITORING_METRICS.errorOutputRecords,
      { model },
      'Maximum',
      `${model} from capture-errors/ in window`,
    );
  }

  // --- What the inference function captured and accepted (ServerlessMlops, service=inference) ---

  capturedInstancesCount(model: string): cloudwatch.IMetric {
    return this.inference(CAPTURE_METRICS.capturedInstances, model, `${model} captured`);
  }

  /** Captures that failed (the answers were not affected). */
  captureErrorsCount(model: string): cloudwatch.IMetric {
    return this.inference(CAPTURE_METRICS.captureErrors, model, `${model} capture errors`);
  }

  feedbackLabelsCount(model: string): cloudwatch.IMetric {
    return this.inference(CAPTURE_METRICS.feedbackLabels, model, `${model} feedback labels`);
  }

  // --- The capture stream (AWS/Firehose, DeliveryStreamName) ---

  /** Records (CloudWatch Logs batches) the stream received; undefined without a capture path. */
  captureIncomingRecordsCount(): cloudwatch.IMetric | undefined {
    return this.firehose('IncomingRecords', 'Sum', 'Firehose incoming records');
  }

  /** Records written to capture/; undefined without a capture path. */
  captureDeliveredRecordsCount(): cloudwatch.IMetric | undefined {
    return this.firehose('DeliveryToS3.Records', 'Sum', 'delivered to capture/');
  }

  /** Age of the oldest record not yet in S3 (the buffering interval when healthy); undefined without a capture path. */
  captureDataFreshnessMaxInSeconds(): cloudwatch.IMetric | undefined {
    return this.firehose('DeliveryToS3.DataFreshness', 'Maximum', 'oldest undelivered record (s)');
  }

  /** The capture stream's buffering interval in seconds; undefined without a capture path. */
  captureBufferingSeconds(): number | undefined {
    const capture = this.props.capture;
    return capture && (capture.bufferingInterval ?? DEFAULT_CAPTURE_BUFFERING).toSeconds();
  }

  // --- The monitoring job's function and dead-letter queue ---

  /** undefined without a monitoring job. */
  monitoringErrorsCount(): cloudwatch.IMetric | undefined {
    return this.props.job?.fn.metricErrors({ statistic: 'Sum', period: this.period, label: 'monitoring errors' });
  }

  /** undefined without a monitoring job. */
  monitoringDurationMaxInMillis(): cloudwatch.IMetric | undefined {
    return this.props.job?.fn.metricDuration({
      statistic: 'Maximum',
      period: this.period,
      label: 'monitoring run max',
    });
  }

  /** Failed runs and undelivered schedule events waiting; undefined without a monitoring job. */
  monitoringDeadLetteredMax(): cloudwatch.IMetric | undefined {
    return this.props.job?.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: this.period,
      label: 'monitoring runs in the dead-letter queue',
    });
  }

  private job(
    metricName: string,
    dimensions: Record<string, string>,
    statistic: string,
    label: string,
  ): cloudwatch.Metric {
    return customMetric(METRICS_SERVICES.monitoring, metricName, dimensions, statistic, label, this.runPeriod);
  }

  private firehose(metricName: string, statistic: string, label: string): cloudwatch.Metric | undefined {
    const capture = this.props.capture;
    return (
      capture &&
      new cloudwatch.Metric({
        namespace: 'AWS/Firehose',
        metricName,
        dimensionsMap: { DeliveryStreamName: capture.deliveryStreamName },
        statistic,
        label,
        period: this.period,
      })
    );
  }

  private inference(metricName: string, model: string, label: string): cloudwatch.Metric {
    return customMetric(METRICS_SERVICES.inference, metricName, { model }, 'Sum', label, this.period);
  }
}
