import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { PSI_MODERATE } from '../../core/monitoring/contract';
import { type Variant, VARIANTS } from '../../core/registry/routing';
import { type AlarmThresholds, captureDeliveryStaleSeconds } from './alarm-thresholds';
import type { MonitoredModel } from './platform-alarms';
import type { PlatformMetrics } from './platform-metrics';

export interface PlatformDashboardProps {
  readonly metrics: PlatformMetrics;
  readonly models: readonly MonitoredModel[];
  /** Drawn as dashed lines on the graphs their alarms watch. */
  readonly thresholds: AlarmThresholds;
  /** Shown together in the alarm status row at the top. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /**
   * How far back the model-quality graphs (scores, runs, promotions) look, whatever the
   * dashboard's time range: runs are hours or days apart.
   * @default Duration.days(30)
   */
  readonly qualityWindow?: Duration;
  /**
   * The dashboard's initial time range.
   * @default Duration.days(1)
   */
  readonly defaultInterval?: Duration;
}

type GraphFactory = (
  title: string,
  left: cloudwatch.IMetric[],
  extra?: Partial<cloudwatch.GraphWidgetProps>,
) => cloudwatch.GraphWidget;
type LineFactory = (value: number, label: string) => cloudwatch.HorizontalAnnotation;

const HEADER = [
  '# Serverless MLOps platform',
  "Read it top to bottom. **Is it healthy?** The alarm row first (grey: no data yet, red: read the runbook in `docs/operations.md` under the alarm's name), then **API** and **Lambda**.",
  '**Is the model good?** The **Model** row: what each model predicts per version and class (a sudden shift in the class mix after a promotion deserves a look), how fast, load failures, and which version serves.',
  "**Is the canary as good as the champion?** The **Rollout** row: per model, requests, 4xx/5xx and p99 latency of the champion and the canary side by side (what the rollout gate judges), the class mix per variant, and the shadow's agreement with the answers.",
  "**Does live data still look like the training data?** The **Data loop** row: per monitored model, the largest feature PSI and the prediction PSI of each monitoring run against the drift alarm's line (0.1 moderate, the spec's threshold significant), PSI per feature, the champion's live accuracy on labelled requests, records and matched feedback in the window, what the inference function captured, and the capture stream and monitoring job themselves.",
  "**What changed?** The **Pipeline** row: runs, candidate vs champion on the gate metric (the candidate is promoted only if it beats the champion by the spec's margin), promotions and quarantined uploads, over the last 30 days; then failed executions next to quarantined uploads, and starts that never became executions (dead-letter queue, failed invocations).",
  'Dashed lines are alarm thresholds. Custom metrics are in the `ServerlessMlops` namespace, dimension `service` = inference | pipeline | monitoring.',
].join('\n\n');

/**
 * One CloudWatch dashboard for the whole platform (no physical name: CloudFormation names it). It
 * only draws: metrics come from PlatformMetrics, thresholds from AlarmThresholds.
 */
export class PlatformDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PlatformDashboardProps) {
    super(scope, id);
    const { metrics: m, models, thresholds: t } = props;
    const quality = {
      start: `-P${Math.max(1, Math.round((props.qualityWindow ?? Duration.days(30)).toDays({ integral: false })))}D`,
    };
    const daily = Duration.days(1);
    const hourly = Duration.hours(1);
    const each = <T>(f: (model: MonitoredModel) => T) => models.map(f);
    const perModelWidth = Math.max(6, Math.floor(24 / Math.max(1, models.length)));
    const line = (value: number, label: string): cloudwatch.HorizontalAnnotation => ({
      value,
      label,
      color: '#d62728',
      fill: cloudwatch.Shading.NONE,
    });
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 6, height: 6, leftYAxis: { min: 0 }, ...extra });
    const section = (markdown: string) => new cloudwatch.TextWidget({ markdown, width: 24, height: 1 });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: props.defaultInterval ?? Duration.days(1),
    });
    const d = this.dashboard;

    d.addWidgets(new cloudwatch.TextWidget({ markdown: HEADER, width: 24, height: 7 }));
    d.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms (all send to the alarm topic)',
        alarms: [...props.alarms],
        width: 24,
        height: Math.max(3, 1 + Math.ceil(props.alarms.length / 4)),
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }),
    );

    d.addWidgets(section('### API: is it healthy? (HTTP API, stage $default)'));
    d.addWidgets(
      graph('Requests', [m.apiRequestsCount()]),
      graph('4xx / 5xx rate (%)', [m.api4xxRatePercent(), m.api5xxRatePercent()], {
        leftAnnotations: [line(t.api5xxRatePercent, '5xx alarm')],
      }),
      graph('Latency (ms)', [m.apiLatencyP50InMillis(), m.apiLatencyP90InMillis(), m.apiLatencyP99InMillis()], {
        leftAnnotations: [line(t.apiLatencyP99InMillis, 'p99 alarm')],
      }),
      graph('p99: API vs function (ms)', [m.apiLatencyP99InMillis(), m.apiIntegrationLatencyP99InMillis()]),
    );

    d.addWidgets(section('### Lambda: inference and pipeline functions'));
    d.addWidgets(
      graph('Inference duration (ms)', [
        m.functionDurationP50InMillis('inference'),
        m.functionDurationP99InMillis('inference'),
      ]),
      graph('Pipeline duration (ms)', [
        m.functionDurationP50InMillis('pipeline'),
        m.functionDurationP99InMillis('pipeline'),
      ]),
      graph(
        'Errors (count) and inference error rate (%)',
        [m.functionErrorsCount('inference'), m.functionErrorsCount('pipeline')],
        {
          right: [m.functionErrorRatePercent('inference')],
          rightYAxis: { min: 0 },
          rightAnnotations: [line(t.inferenceErrorRatePercent, 'error % alarm')],
        },
      ),
      graph('Throttles', [m.functionThrottlesCount('inference'), m.functionThrottlesCount('pipeline')]),
      graph(
        'Concurrent executions (max)',
        [m.functionConcurrentExecutionsMax('inference'), m.functionConcurrentExecutionsMax('pipeline')],
        { width: 12 },
      ),
      graph('Inference cold starts', [m.coldStartsCount()], { width: 12 }),
    );

    d.addWidgets(section('### Model: is it good? What it predicts, how fast, which version serves'));
    d.addWidgets(
      graph(
        'Predictions per model',
        each((x) => m.predictionsCount(x.name)),
        { width: 8 },
      ),
      graph(
        'Inference latency, backend only (ms)',
        each((x) => [m.inferenceLatencyP50InMillis(x.name), m.inferenceLatencyP99InMillis(x.name)]).flat(),
        { width: 8 },
      ),
      graph(
        'Model version in service',
        each((x) => m.modelVersionInServiceMax(x.name)),
        { width: 8 },
      ),
      ...each((x) =>
        graph(`Predictions of ${x.name} by version and class`, [m.predictionsByVersionAndClassCount(x.name)], {
          width: perModelWidth,
          stacked: true,
        }),
      ),
      graph(
        'Model load failures and bundled-model fallbacks',
        each((x) => [m.modelLoadFailuresCount(x.name), m.bundledModelFallbacksCount(x.name)]).flat(),
        { width: 12 },
      ),
      graph(
        'Model load time p99 (ms)',
        each((x) => m.modelLoadTimeP99InMillis(x.name)),
        { width: 12 },
      ),
    );

    const r = m.rollout;
    const variants = (f: (variant: Variant) => cloudwatch.IMetric) => VARIANTS.map(f);
    d.addWidgets(
      section("### Rollout: canary vs champion (routing.json), and the shadow's agreement with the answers"),
    );
    d.addWidgets(
      ...each((x) =>
        graph(
          `${x.name}: requests (left) and 4xx / 5xx (right) by variant`,
          variants((v) => r.variantRequestsCount(x.name, v)),
          {
            width: perModelWidth,
            right: [
              ...variants((v) => r.variantClientErrorsCount(x.name, v)),
              ...variants((v) => r.variantServerErrorsCount(x.name, v)),
            ],
            rightYAxis: { min: 0 },
          },
        ),
      ),
      ...each((x) =>
        graph(
          `${x.name}: latency p99 by variant (ms)`,
          variants((v) => r.variantLatencyP99InMillis(x.name, v)),
          { width: perModelWidth },
        ),
      ),
      ...each((x) =>
        graph(`Predictions of ${x.name} by variant and class`, [r.predictionsByVariantAndClassCount(x.name)], {
          width: perModelWidth,
          stacked: true,
        }),
      ),
      graph(
        'Shadow agreement and probability delta (average per request)',
        each((x) => [r.shadowAgreementAverage(x.name), r.shadowProbabilityDeltaAverage(x.name)]).flat(),
        { width: 8, leftYAxis: { min: 0, max: 1 } },
      ),
      graph(
        'Shadow latency p99, added to the invocation (ms)',
        each((x) => r.shadowLatencyP99InMillis(x.name)),
        { width: 8 },
      ),
      graph(
        'Shadow rows scored (left); shadow errors and unreadable routing documents (right)',
        each((x) => r.shadowPredictionsCount(x.name)),
        {
          width: 8,
          right: each((x) => [r.shadowErrorsCount(x.name), r.routingDocumentErrorsCount(x.name)]).flat(),
          rightYAxis: { min: 0 },
        },
      ),
    );

    this.addDataLoopRow(m, models, section, graph, line);

    d.addWidgets(section('### Pipeline: what changed? Runs, candidate vs champion, promotions, quarantined uploads'));
    d.addWidgets(
      graph('Executions', [m.executionsStartedCount(), m.executionsSucceededCount(), m.executionsFailedCount()], {
        width: 8,
      }),
      graph('Execution time (ms)', [m.executionTimeP50InMillis(), m.executionTimeMaxInMillis()], { width: 8 }),
      graph(
        'Retraining duration per model (s)',
        each((x) => m.retrainingDurationMaxInSeconds(x.name, hourly)),
        { width: 8, ...quality },
      ),
      ...each((x) =>
        graph(
          `Candidate vs champion: ${x.name} (${x.gateMetric}, holdout)`,
          [m.candidateScore(x.name, x.gateMetric, hourly), m.championScore(x.name, x.gateMetric, hourly)],
          {
            width: perModelWidth,
            leftYAxis: { min: 0, max: 1 },
            ...quality,
          },
        ),
      ),
      graph(
        'Runs by outcome (per day)',
        each((x) => [
          m.retrainingRunsCount(x.name, 'promoted', daily),
          m.retrainingRunsCount(x.name, 'canary', daily),
          m.retrainingRunsCount(x.name, 'rejected', daily),
        ]).flat(),
        { width: 8, ...quality },
      ),
      graph(
        'Promotions (per day)',
        each((x) => m.promotionsCount(x.name, daily)),
        { width: 8, ...quality },
      ),
      graph(
        'Quarantined files and failed runs (per day)',
        each((x) => [m.quarantinedFilesCount(x.name, daily), m.retrainingFailuresCount(x.name, daily)]).flat(),
        { width: 8, ...quality },
      ),
    );

    d.addWidgets(
      section(
        '### Pipeline failures and lost starts: was a failed execution a quarantine? Did every upload and schedule start a run?',
      ),
    );
    d.addWidgets(
      // Quarantined uploads end their executions in Succeed(Quarantined), so failed executions are
      // broken runs; the two lines side by side show bad data apart from broken runs.
      graph(
        'Failed executions vs quarantined uploads (all models)',
        [m.executionsFailedCount(), m.quarantinedFilesAllModelsCount()],
        {
          width: 8,
          leftAnnotations: [line(t.pipelineExecutionFailuresCount, 'failed executions alarm')],
        },
      ),
      graph('Starts in the dead-letter queue', [m.deadLetteredStartsMax()], {
        width: 8,
        leftAnnotations: [line(t.deadLetteredStartsCount, 'dead-letter alarm')],
      }),
      graph(
        'Failed starts per rule (EventBridge FailedInvocations)',
        m.startRules().map((r) => m.failedStartsCount(r)),
        { width: 8, leftAnnotations: [line(t.failedStartsCount, 'failed starts alarm')] },
      ),
    );
  }

  /** The production data loop: what the monitoring job found per run, and what feeds it. */
  private addDataLoopRow(
    m: PlatformMetrics,
    models: readonly MonitoredModel[],
    section: (markdown: string) => cloudwatch.TextWidget,
    graph: GraphFactory,
    line: LineFactory,
  ): void {
    const monitored = models.flatMap((x) => (x.monitoring ? [{ name: x.name, ...x.monitoring }] : []));
    if (monitored.length === 0) return;
    const d = m.dataLoop;
    const width = Math.max(6, Math.floor(24 / monitored.length));
    const moderate: cloudwatch.HorizontalAnnotation = {
      value: PSI_MODERATE,
      label: 'moderate (0.1)',
      color: '#ff7f0e',
      fill: cloudwatch.Shading.NONE,
    };
    const optional = (metrics: (cloudwatch.IMetric | undefined)[]) =>
      metrics.filter((x): x is cloudwatch.IMetric => x !== undefined);
    this.dashboard.addWidgets(
      section(
        '### Data loop: does live data still look like the training data? Drift, live accuracy, capture and feedback (service=monitoring per run)',
      ),
    );
    this.dashboard.addWidgets(
      ...monitored.map((x) =>
        graph(
          `Drift: ${x.name} (largest feature PSI and prediction PSI per run)`,
          [d.maxFeatureDriftMax(x.name), d.predictionDriftMax(x.name)],
          {
            width,
            leftAnnotations: [line(x.driftThreshold, 'drift alarm'), moderate],
          },
        ),
      ),
      ...monitored.map((x) => graph(`PSI per feature: ${x.name}`, [d.featureDriftByFeatureMax(x.name)], { width })),
      ...monitored.map((x) =>
        graph(`Live accuracy: ${x.name} (champion, labelled requests in the window)`, [d.liveAccuracyMin(x.name)], {
          width,
          leftYAxis: { min: 0, max: 1 },
          leftAnnotations: x.liveAccuracyFloor === undefined ? [] : [line(x.liveAccuracyFloor, 'live accuracy alarm')],
        }),
      ),
      graph(
        'Records and matched feedback in the window (left); of them from capture-errors/ (right)',
        monitored.flatMap((x) => [d.capturedRecordsMax(x.name), d.feedbackMatchedMax(x.name)]),
        {
          width: 8,
          right: monitored.map((x) => d.errorOutputRecordsMax(x.name)),
          rightYAxis: { min: 0 },
        },
      ),
      graph(
        'Captured instances and feedback labels (left); capture errors (right)',
        monitored.flatMap((x) => [d.capturedInstancesCount(x.name), d.feedbackLabelsCount(x.name)]),
        {
          width: 8,
          right: monitored.map((x) => d.captureErrorsCount(x.name)),
          rightYAxis: { min: 0 },
        },
      ),
      graph(
        'Drift retrains started',
        monitored.map((x) => d.driftRetrainsCount(x.name)),
        { width: 8 },
      ),
    );
    const stream = optional([d.captureIncomingRecordsCount(), d.captureDeliveredRecordsCount()]);
    const buffering = d.captureBufferingSeconds();
    const job = optional([d.monitoringErrorsCount(), d.monitoringDeadLetteredMax()]);
    this.dashboard.addWidgets(
      ...(stream.length === 0
        ? []
        : [
            graph('Capture stream: records in and delivered (left); oldest undelivered, s (right)', stream, {
              width: 12,
              right: optional([d.captureDataFreshnessMaxInSeconds()]),
              rightYAxis: { min: 0 },
              rightAnnotations:
                buffering === undefined ? [] : [line(captureDeliveryStaleSeconds(buffering), 'delivery alarm')],
            }),
          ]),
      ...(job.length === 0
        ? []
        : [
            graph('Monitoring job: errors and dead-lettered runs (left); longest run, ms (right)', job, {
              width: 12,
              right: optional([d.monitoringDurationMaxInMillis()]),
              rightYAxis: { min: 0 },
            }),
          ]),
    );
  }
}
