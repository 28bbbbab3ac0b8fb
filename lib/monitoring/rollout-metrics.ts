import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Variant } from '../../core/registry/routing';
import { INFERENCE_METRICS, METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';
import { customMetric } from './custom-metric';

/**
 * A CloudWatch SEARCH over the VariantPredictions series of one model (every variant and class):
 * class labels are not known at synth. `="..."` is an exact match.
 */
function variantPredictionsSearchExpression(model: string, period: Duration = Duration.minutes(5)): string {
  const schema = `{${METRICS_NAMESPACE},class,model,service,variant}`;
  return `SEARCH('${schema} MetricName="${INFERENCE_METRICS.variantPredictions}" service="${METRICS_SERVICES.inference}" model="${model}"', 'Sum', ${period.toSeconds()})`;
}

/**
 * The safe-rollout metrics the inference function records (lambdas/inference/routed-predict.ts,
 * shadow.ts, routing-cache.ts), by name with the unit in the name, like PlatformMetrics: champion
 * vs canary per model, and the shadow's comparison with the answers. Dimensions are what the
 * function records plus `service`.
 */
export class RolloutMetrics {
  constructor(readonly period: Duration = Duration.minutes(5)) {}

  /** Predict requests that reached the model, answered by this variant (refusals included). */
  variantRequestsCount(model: string, variant: Variant): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.variantRequests, { model, variant }, 'Sum', `${model} ${variant}`);
  }

  /** 5xx answers of this variant (the backend failed on a valid request). */
  variantServerErrorsCount(model: string, variant: Variant): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.variantServerErrors, { model, variant }, 'Sum', `${model} ${variant} 5xx`);
  }

  /** 4xx answers of this variant after the model was resolved (e.g. a schema the canary refuses). */
  variantClientErrorsCount(model: string, variant: Variant): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.variantClientErrors, { model, variant }, 'Sum', `${model} ${variant} 4xx`);
  }

  /** Predict handling from body to answer (the shadow excluded), p99. */
  variantLatencyP99InMillis(model: string, variant: Variant): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.variantLatency, { model, variant }, 'p99', `${model} ${variant} p99`);
  }

  /** One line per variant and class of a model: does the canary answer a different class mix? */
  predictionsByVariantAndClassCount(model: string): cloudwatch.IMetric {
    return new cloudwatch.SearchExpression({
      expression: variantPredictionsSearchExpression(model, this.period),
      label: "${PROP('Dim.variant')} ${PROP('Dim.class')}",
      period: this.period,
    });
  }

  /** Share of rows where the shadow's label equals the answer's (each request records its share: the Average). */
  shadowAgreementAverage(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.shadowAgreement, { model }, 'Average', `${model} agreement`);
  }

  /** Mean largest class-probability difference, shadow vs answer. */
  shadowProbabilityDeltaAverage(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.shadowProbabilityDelta, { model }, 'Average', `${model} probability delta`);
  }

  /** What the shadow added to an invocation, p99. */
  shadowLatencyP99InMillis(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.shadowLatency, { model }, 'p99', `${model} shadow p99`);
  }

  /** Rows the shadow scored. */
  shadowPredictionsCount(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.shadowPredictions, { model }, 'Sum', `${model} shadow rows`);
  }

  /** Requests the shadow could not score (the answers were not affected). */
  shadowErrorsCount(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.shadowErrors, { model }, 'Sum', `${model} shadow errors`);
  }

  /** Checks that found routing.json unusable (the champion served everything meanwhile). */
  routingDocumentErrorsCount(model: string): cloudwatch.IMetric {
    return this.metric(INFERENCE_METRICS.routingDocumentErrors, { model }, 'Sum', `${model} routing document errors`);
  }

  private metric(
    metricName: string,
    dimensions: Record<string, string>,
    statistic: string,
    label: string,
  ): cloudwatch.Metric {
    return customMetric(METRICS_SERVICES.inference, metricName, dimensions, statistic, label, this.period);
  }
}
