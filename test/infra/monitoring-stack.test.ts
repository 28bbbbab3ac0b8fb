import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CAPTURE_METRICS, MONITORING_METRICS } from '../../core/monitoring/contract';
import { VARIANTS } from '../../core/registry/routing';
import { INFERENCE_METRICS, METRICS_SERVICE } from '../../lambdas/inference/metrics';
import { PIPELINE_METRICS, PIPELINE_METRICS_SERVICE } from '../../lambdas/pipeline/metrics';
import { METRICS_NAMESPACE } from '../../lambdas/shared/metrics';
import { DEFAULT_ALARM_THRESHOLDS, retrainingStaleWindow } from '../../lib/monitoring/alarm-thresholds';
import { dashboardBody, drawnMetrics } from './dashboard-body';
import { MODELS, platform, SPECS } from './platform';

/** Every metric name the functions may emit; the data loop's come from core/monitoring/contract.ts (INFERENCE_METRICS repeats CAPTURE_METRICS). */
const CONSTANTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  INFERENCE_METRICS,
  PIPELINE_METRICS,
  MONITORING_METRICS,
  CAPTURE_METRICS,
};

type Properties = Record<string, unknown>;
const alarmProperties = (p: ReturnType<typeof platform>, id: string): Properties => {
  const logicalId = p.monitoring.getLogicalId(p.monitoring.alarms.byId[id].node.defaultChild as CfnElement);
  return p.template.toJSON().Resources[logicalId].Properties as Properties;
};

describe('MonitoringStack', () => {
  const p = platform({ alarmEmail: 'ops@example.com' });
  const { monitoring, template } = p;
  const topic = { Ref: monitoring.getLogicalId(monitoring.alarmTopic.node.defaultChild as CfnElement) };

  test('every alarm notifies the alarm topic, and sustained ones say when they recover', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topic]);
    for (const id of ['Api5xxRate', 'ApiLatencyP99', 'InferenceErrorRate'])
      expect(alarmProperties(p, id).OKActions).toEqual([topic]);
  });

  test('every alarm description says what it means, what to do first and where the runbook is', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmDescription).toMatch(/First: .+ Runbook: docs\/operations\.md, section \w+\.$/);
      expect(alarm.Properties.AlarmDescription).not.toMatch(/\{model\}|\{hours\}/);
    }
  });

  test('the 5xx alarm is a percentage of requests over 3 of 3 five-minute periods, not a count', () => {
    const alarm = alarmProperties(p, 'Api5xxRate');
    expect(alarm).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    const onStage = (MetricName: string) => ({
      Metric: {
        Namespace: 'AWS/ApiGateway',
        MetricName,
        Dimensions: [expect.objectContaining({ Name: 'ApiId' }), { Name: 'Stage', Value: '$default' }],
      },
      Stat: 'Sum',
      Period: 300,
    });
    expect(alarm.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Expression: 'IF(requests > 0, 100 * FILL(serverErrors, 0) / requests, 0)',
          ReturnData: true,
        }),
        expect.objectContaining({ Id: 'serverErrors', MetricStat: onStage('5xx') }),
        expect.objectContaining({ Id: 'requests', MetricStat: onStage('Count') }),
      ]),
    );
  });

  test('a broken rollout execution and an undelivered rollout event each raise an alarm', () => {
    expect(alarmProperties(p, 'RolloutExecutionsFailed')).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(JSON.stringify(alarmProperties(p, 'RolloutExecutionsFailed').Metrics)).toMatch(
      /ExecutionsFailed.*ExecutionsTimedOut.*ExecutionsAborted/,
    );
    const deadLettered = alarmProperties(p, 'RolloutEventsDeadLettered');
    expect(deadLettered).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    expect(JSON.stringify(deadLettered)).toMatch(
      /"MetricName":"ApproximateNumberOfMessagesVisible".*"Namespace":"AWS\/SQS"|"Namespace":"AWS\/SQS".*"MetricName":"ApproximateNumberOfMessagesVisible"/,
    );
    expect(JSON.stringify(deadLettered)).toContain('RolloutDeadLetterQueue');
  });

  test("starts waiting in the pipeline's dead-letter queue raise an alarm (and its recovery) on the queue's visible messages", () => {
    expect(alarmProperties(p, 'PipelineStartsDeadLettered')).toMatchObject({
      Metrics: [
        expect.objectContaining({
          ReturnData: true,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateNumberOfMessagesVisible',
              Dimensions: [
                { Name: 'QueueName', Value: { 'Fn::ImportValue': expect.stringMatching(/StartDeadLetterQueue/) } },
              ],
            },
            Stat: 'Maximum',
            Period: 300,
          },
        }),
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      AlarmActions: [topic],
      OKActions: [topic],
    });
  });

  test('each rule that starts the pipeline (uploads, every schedule) has an alarm on its failed invocations', () => {
    const scheduled = SPECS.flatMap((s) => (s.schedule ? [`schedule-${s.name}`] : []));
    const ids = Object.keys(monitoring.alarms.byId).filter((id) => id.startsWith('PipelineStartsFailed-'));
    expect(ids.sort()).toEqual(['uploads', ...scheduled].map((k) => `PipelineStartsFailed-${k}`).sort());
    const watched = (id: string) =>
      (alarmProperties(p, id).Metrics as { MetricStat: { Metric: { Dimensions: unknown[] } } }[])[0].MetricStat;
    // Each watches its own rule (by name, exported by the pipeline stack).
    expect(new Set(ids.map((id) => JSON.stringify(watched(id).Metric.Dimensions))).size).toBe(ids.length);
    for (const id of ids) {
      expect(alarmProperties(p, id)).toMatchObject({
        Metrics: [
          expect.objectContaining({
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: 'AWS/Events',
                MetricName: 'FailedInvocations',
                Dimensions: [
                  { Name: 'RuleName', Value: { 'Fn::ImportValue': expect.stringMatching(/UploadRule|Schedule/) } },
                ],
              },
              Stat: 'Sum',
              Period: 300,
            },
          }),
        ],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
      });
    }
    expect(alarmProperties(p, 'PipelineStartsFailed-uploads').AlarmDescription).toContain('by the upload rule');
    expect(alarmProperties(p, 'PipelineStartsFailed-schedule-iris').AlarmDescription).toContain(
      'by the schedule of iris',
    );
  });

  test('failed executions still count quarantined uploads: QuarantinedFiles is not subtracted (see the runbook)', () => {
    const alarm = alarmProperties(p, 'PipelineExecutionsFailed');
    expect(alarm.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
          ReturnData: true,
        }),
      ]),
    );
    expect(JSON.stringify(alarm.Metrics)).not.toContain(PIPELINE_METRICS.quarantinedFiles);
  });

  test("the dashboard draws failed executions next to all quarantined uploads, the dead-letter queue and each rule's failed starts", () => {
    const drawn = drawnMetrics(template);
    expect(drawn).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible' }),
        expect.objectContaining({ namespace: 'AWS/Events', name: 'FailedInvocations' }),
        expect.objectContaining({ namespace: 'AWS/States', name: 'ExecutionsFailed' }),
        // every model, the folders with no spec included: a SEARCH over the model dimension
        {
          namespace: METRICS_NAMESPACE,
          name: PIPELINE_METRICS.quarantinedFiles,
          dimensions: { model: '*', service: PIPELINE_METRICS_SERVICE },
          search: expect.any(String),
        },
      ]),
    );
    expect(drawn.filter((m) => m.namespace === 'AWS/Events')).toHaveLength(1 + SPECS.filter((s) => s.schedule).length);
  });

  test('a scheduled model whose window fits in 7 days gets a staleness alarm over hourly finished runs; the others are reported', () => {
    const windows = MODELS.map((m) => ({
      model: m.name,
      window: retrainingStaleWindow(m.schedule, DEFAULT_ALARM_THRESHOLDS.retrainingMissedRuns),
    }));
    const alarmed = windows.flatMap(({ model, window }) => ('hours' in window ? [{ model, hours: window.hours }] : []));
    const skipped = windows.flatMap(({ model, window }) =>
      'skipped' in window ? [{ model, reason: window.skipped }] : [],
    );
    expect(monitoring.alarms.staleAlarmSkipped).toEqual(skipped);
    expect(
      Object.keys(monitoring.alarms.byId)
        .filter((id) => id.startsWith('RetrainingStale-'))
        .sort(),
    ).toEqual(alarmed.map((a) => `RetrainingStale-${a.model}`).sort());
    expect(alarmed.map((a) => alarmProperties(p, `RetrainingStale-${a.model}`))).toEqual(
      alarmed.map((a) =>
        expect.objectContaining({
          Threshold: 1,
          ComparisonOperator: 'LessThanThreshold',
          EvaluationPeriods: a.hours,
          DatapointsToAlarm: a.hours,
          TreatMissingData: 'breaching',
          Metrics: expect.arrayContaining([
            expect.objectContaining({ Expression: 'FILL(promoted, 0) + FILL(canary, 0) + FILL(rejected, 0)' }),
          ]),
        }),
      ),
    );
  });

  test("the alarm topic uses a rotated customer-managed key CloudWatch may use, and only this account's alarms over TLS may publish", () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Effect: 'Allow',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlarmTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topic,
    });
  });

  test("outputs the dashboard URL in the stack's region and the topic ARN", () => {
    template.hasOutput('DashboardUrl', {
      Value: {
        'Fn::Join': ['', Match.arrayWith([{ Ref: 'AWS::Region' }, Match.stringLikeRegexp('#dashboards:name=')])],
      },
    });
    template.hasOutput('AlarmTopicArn', { Value: topic });
  });

  test('monitoring reads the other stacks and nothing reads monitoring', () => {
    expect(monitoring.dependencies).toEqual(expect.arrayContaining([p.pipeline, p.inference]));
    for (const stack of [p.storage, p.pipeline, p.inference]) expect(stack.dependencies).not.toContain(monitoring);
  });

  test('the dashboard has no physical name and shows every alarm', () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboard).toHaveLength(1);
    expect(dashboard[0].Properties.DashboardName).toBeUndefined();
    const statusWidget = dashboardBody(template).widgets.find((w) => w.type === 'alarm');
    expect(statusWidget?.properties.alarms).toHaveLength(monitoring.alarms.alarms.length);
  });
});

describe('MonitoringStack thresholds', () => {
  test('thresholds from props reach the alarms', () => {
    const models = [{ name: 'iris', gateMetric: 'macroF1', schedule: 'rate(12 hours)' }];
    const p = platform({
      models,
      thresholds: {
        api5xxRatePercent: 2.5,
        apiLatencyP99InMillis: 1500,
        sustainedPeriods: 4,
        modelLoadFailuresCount: 2,
        retrainingMissedRuns: 3,
        deadLetteredStartsCount: 1,
        failedStartsCount: 2,
      },
    });
    expect(alarmProperties(p, 'Api5xxRate')).toMatchObject({
      Threshold: 2.5,
      EvaluationPeriods: 4,
      DatapointsToAlarm: 4,
      AlarmDescription: expect.stringContaining('More than 2.5% of inference API requests'),
    });
    expect(alarmProperties(p, 'ApiLatencyP99')).toMatchObject({ Threshold: 1500, EvaluationPeriods: 4 });
    expect(alarmProperties(p, 'ModelLoadFailures-iris')).toMatchObject({ Threshold: 2, EvaluationPeriods: 1 });
    expect(alarmProperties(p, 'PipelineStartsDeadLettered')).toMatchObject({
      Threshold: 1,
      AlarmDescription: expect.stringContaining('More than 1 retraining starts are waiting'),
    });
    expect(alarmProperties(p, 'PipelineStartsFailed-uploads')).toMatchObject({ Threshold: 2 });
    // (3 missed runs + half an interval of slack) x 12 h, in 1-hour periods.
    expect(alarmProperties(p, 'RetrainingStale-iris')).toMatchObject({
      EvaluationPeriods: 42,
      DatapointsToAlarm: 42,
      Metrics: expect.arrayContaining([
        expect.objectContaining({ MetricStat: expect.objectContaining({ Period: 3600 }) }),
      ]),
    });
  });

  test('fails at synth when a threshold is invalid, naming the field and the value', () => {
    expect(() => platform({ thresholds: { api5xxRatePercent: 150, sustainedPeriods: 0 } })).toThrow(
      /thresholds\.api5xxRatePercent must be a percentage .* got 150[\s\S]*thresholds\.sustainedPeriods .* got 0/,
    );
  });

  test("fails at synth when a model's gate metric is not one a spec can name", () => {
    expect(() => platform({ models: [{ name: 'iris', gateMetric: 'f1' }] })).toThrow(
      /gateMetric of "iris" must be one of macroF1, accuracy .* got "f1"/,
    );
  });
});

describe('the dashboard and the metrics the functions emit', () => {
  const { template, pipeline, inference } = platform();
  const drawn = drawnMetrics(template);
  const custom = drawn.filter((m) => m.namespace === METRICS_NAMESPACE);
  const declared = new Set(Object.values(CONSTANTS).flatMap((names) => Object.values(names)));

  test('draws every metric the functions declare, and the API, Lambda and Step Functions metrics', () => {
    expect([...new Set(custom.map((m) => m.name))].sort()).toEqual([...declared].sort());
    const names = (namespace: string) => new Set(drawn.filter((m) => m.namespace === namespace).map((m) => m.name));
    expect([...names('AWS/ApiGateway')].sort()).toEqual(['4xx', '5xx', 'Count', 'IntegrationLatency', 'Latency']);
    expect([...names('AWS/Lambda')].sort()).toEqual([
      'ConcurrentExecutions',
      'Duration',
      'Errors',
      'Invocations',
      'Throttles',
    ]);
    expect([...names('AWS/States')].sort()).toEqual([
      'ExecutionTime',
      'ExecutionsFailed',
      'ExecutionsStarted',
      'ExecutionsSucceeded',
    ]);
  });

  test('predictions per version and class come from SEARCH over the Predictions dimension set, one per model', () => {
    const searches = custom.filter((m) => m.search && m.name === INFERENCE_METRICS.predictions);
    expect(searches.map((m) => m.search)).toEqual(
      expect.arrayContaining(
        MODELS.map(
          (m) =>
            `SEARCH('{ServerlessMlops,class,model,service,version} MetricName="Predictions" service="inference" model="${m.name}"'`,
        ),
      ),
    );
  });

  test('the Rollout row draws champion and canary side by side for every model (requests, 4xx / 5xx, p99 latency, class mix) and the shadow agreement as an average', () => {
    /** "<model> [<variant>] <statistic>" of every plain line drawing `name`. */
    const lines = (name: string) =>
      dashboardBody(template).widgets.flatMap((w) =>
        (w.properties.metrics ?? [])
          .filter((entry) => entry[0] === METRICS_NAMESPACE && entry[1] === name)
          .map((entry) => {
            const pairs = entry.slice(2).filter((x): x is string => typeof x === 'string');
            const dimensions = Object.fromEntries(
              pairs.flatMap((_, i) => (i % 2 === 0 ? [[pairs[i], pairs[i + 1]]] : [])),
            );
            const options = entry.find((x) => typeof x === 'object') as { stat?: string } | undefined;
            // The dashboard body leaves out CloudWatch's default statistic, Average.
            return [dimensions.model, dimensions.variant, options?.stat ?? 'Average']
              .filter((x) => x !== undefined)
              .join(' ');
          }),
      );
    const perVariant = (stat: string) => MODELS.flatMap((m) => VARIANTS.map((v) => `${m.name} ${v} ${stat}`));
    expect(lines(INFERENCE_METRICS.variantRequests).sort()).toEqual(perVariant('Sum').sort());
    expect(lines(INFERENCE_METRICS.variantServerErrors).sort()).toEqual(perVariant('Sum').sort());
    expect(lines(INFERENCE_METRICS.variantClientErrors).sort()).toEqual(perVariant('Sum').sort());
    expect(lines(INFERENCE_METRICS.variantLatency).sort()).toEqual(perVariant('p99').sort());
    expect(lines(INFERENCE_METRICS.shadowAgreement).sort()).toEqual(MODELS.map((m) => `${m.name} Average`).sort());
    expect(lines(INFERENCE_METRICS.shadowLatency).sort()).toEqual(MODELS.map((m) => `${m.name} p99`).sort());
    expect(custom.filter((m) => m.name === INFERENCE_METRICS.variantPredictions).map((m) => m.search)).toEqual(
      MODELS.map(
        (m) =>
          `SEARCH('{ServerlessMlops,class,model,service,variant} MetricName="VariantPredictions" service="inference" model="${m.name}"'`,
      ),
    );
  });

  /** POWERTOOLS_SERVICE_NAME of the function whose environment has `marker`: the service its metrics carry. */
  const serviceName = (stack: Stack, marker: string): unknown =>
    Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find(
      (r) => r.Properties.Environment?.Variables?.[marker],
    )?.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME;

  test('the inference function publishes under the service the dashboard reads', () => {
    expect(serviceName(inference, 'MAX_BATCH')).toBe(METRICS_SERVICE);
  });

  test('the pipeline function publishes under the service the dashboard reads', () => {
    expect(serviceName(pipeline, 'MODEL_SPECS_DIR')).toBe(PIPELINE_METRICS_SERVICE);
  });
});
