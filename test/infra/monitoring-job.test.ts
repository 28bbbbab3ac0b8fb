import { existsSync } from 'node:fs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CAPTURE_METRICS, MONITORING_METRICS } from '../../core/monitoring/contract';
import { monitoringSettings } from '../../core/pipeline/model-spec';
import { METRICS_SERVICE as INFERENCE_SERVICE } from '../../lambdas/inference/metrics';
import { MONITORING_METRICS_SERVICE } from '../../lambdas/monitoring/metrics';
import { METRICS_NAMESPACE } from '../../lambdas/shared/metrics';
import { platformConfig } from '../../lib/config';
import { MONITORING_ENTRY, MonitoringJob } from '../../lib/constructs/monitoring-job';
import { monitoredModelsProblems } from '../../lib/stacks/monitoring-stack';
import { dashboardBody, drawnMetrics } from './dashboard-body';
import {
  actionsOf,
  dataLoopPlatform,
  keyPattern,
  logicalId,
  roleStatements,
  SPECS,
  type Statement,
} from './data-loop-platform';

/**
 * The drift monitoring job (a function per schedule tick per model, in the pipeline stack next to
 * the state machine it may start), and its alarms and graphs in the monitoring stack.
 */

const p = dataLoopPlatform();
const { pipeline: pipelineStack, monitoring: monitoringStack } = p.stacks;
const job = pipelineStack.monitoringJob;
const jobFunction = job ? logicalId(pipelineStack, job.fn) : 'none';
const retrainingMachine = logicalId(pipelineStack, pipelineStack.pipeline.stateMachine);
/** Models whose capture is on, with their monitoring settings. */
const MONITORED = SPECS.filter((s) => monitoringSettings(s).capture.enabled).map((s) => ({
  name: s.name,
  ...monitoringSettings(s),
}));

const alarm = (id: string): Record<string, unknown> | undefined => {
  const construct = monitoringStack.alarms.byId[id];
  return (
    construct &&
    (p.monitoring.toJSON().Resources[logicalId(monitoringStack, construct)].Properties as Record<string, unknown>)
  );
};
const alarmTopic = { Ref: logicalId(monitoringStack, monitoringStack.alarmTopic) };
type MetricStat = {
  Metric: { Namespace: string; MetricName: string; Dimensions: unknown[] };
  Stat: string;
  Period: number;
};
/** The one metric an alarm watches (CDK renders a labelled metric in the Metrics form). */
const watched = (id: string): MetricStat | undefined =>
  (alarm(id)?.Metrics as { MetricStat: MetricStat }[] | undefined)?.[0]?.MetricStat;

describe('the monitoring job', () => {
  test('runs lambdas/monitoring/handler.ts with the buckets, the retraining state machine and the bundled specs in its environment', () => {
    expect(existsSync(MONITORING_ENTRY)).toBe(true);
    const fn = p.pipeline.findResources('AWS::Lambda::Function')[jobFunction]?.Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      TracingConfig: { Mode: 'Active' },
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [expect.stringMatching(/MonitoringDeadLetterQueue/), 'Arn'] } },
      Environment: {
        Variables: expect.objectContaining({
          DATA_BUCKET: { 'Fn::ImportValue': expect.stringMatching(/DataBucket/) },
          MODEL_BUCKET: { 'Fn::ImportValue': expect.stringMatching(/ModelBucket/) },
          // Same stack as the state machine: a Ref, no cross-stack export.
          STATE_MACHINE_ARN: { Ref: retrainingMachine },
          MODEL_SPECS_DIR: '/var/task/model-specs',
          POWERTOOLS_SERVICE_NAME: MONITORING_METRICS_SERVICE,
        }),
      },
    });
  });

  test('one schedule per model that captures, on its spec\'s monitoring schedule, with input {"model": name}; none for a model with capture off', () => {
    const rules = Object.values(p.pipeline.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes(jobFunction),
    );
    const scheduled = Object.fromEntries(
      rules.map((r) => [
        JSON.parse(r.Properties.Targets[0].Input).model as string,
        r.Properties.ScheduleExpression as string,
      ]),
    );
    expect(scheduled).toEqual(Object.fromEntries(MONITORED.map((m) => [m.name, m.schedule])));
    expect(scheduled.iris).toBe('rate(2 hours)');
    expect(scheduled.sentiment).toBeUndefined();
    for (const rule of rules) {
      expect(rule.Properties.Targets).toHaveLength(1);
      expect(JSON.parse(rule.Properties.Targets[0].Input)).toEqual({ model: expect.any(String) });
      expect(rule.Properties.Targets[0]).toMatchObject({
        DeadLetterConfig: { Arn: expect.anything() },
        RetryPolicy: { MaximumRetryAttempts: 10 },
      });
    }
  });

  test('may start the retraining state machine and no other', () => {
    const statements = roleStatements(p.pipeline, /MonitoringFunctionRole/);
    const states = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
    expect(states.map((s) => [actionsOf(s), s.Resource])).toEqual([
      [['states:StartExecution'], { Ref: retrainingMachine }],
    ]);
    expect(JSON.stringify(statements)).not.toContain(logicalId(pipelineStack, pipelineStack.rollout.stateMachine));
  });

  test('reads capture/, capture-errors/ (Firehose error output) and feedback/, writes only under monitoring/ and monitoring-state/, and only reads the registry', () => {
    const statements = roleStatements(p.pipeline, /MonitoringFunctionRole/).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'),
    );
    const prefixes = (action: string, bucket: string) =>
      statements
        .filter((s: Statement) => actionsOf(s).includes(action) && JSON.stringify(s.Resource).includes(bucket))
        .map((s) => keyPattern(s.Resource))
        .sort();
    expect(prefixes('s3:GetObject', 'DataBucket')).toEqual([
      '/capture-errors/*',
      '/capture/*',
      '/feedback/*',
      '/monitoring-state/*',
    ]);
    // It lists the error types under capture-errors/ before their day folders.
    const listed = roleStatements(p.pipeline, /MonitoringFunctionRole/).filter(
      (s) => actionsOf(s).includes('s3:ListBucket') && JSON.stringify(s.Resource).includes('DataBucket'),
    );
    expect(
      listed.flatMap((s) => (s.Condition as { StringLike: { 's3:prefix': string[] } }).StringLike['s3:prefix']),
    ).toContain('capture-errors/*');
    expect(prefixes('s3:PutObject', 'DataBucket')).toEqual(['/monitoring-state/*', '/monitoring/*']);
    // Only its own cool-down claim, released when the retrain it claimed could not start.
    expect(prefixes('s3:DeleteObject', 'DataBucket')).toEqual(['/monitoring-state/*']);
    expect(prefixes('s3:GetObject', 'ModelBucket')).toEqual(['/registry/*']);
    expect(prefixes('s3:PutObject', 'ModelBucket')).toEqual([]);
  });

  test("1024 MB and 5 minutes by default; cdk.json platform.monitoringJob sets them, validated like the other functions' settings", () => {
    expect(p.pipeline.findResources('AWS::Lambda::Function')[jobFunction].Properties).toMatchObject({
      MemorySize: 1024,
      Timeout: 300,
    });
    const custom = dataLoopPlatform(SPECS, { monitoringJob: { memorySize: 512, timeoutSeconds: 120 } });
    const fn = custom.stacks.pipeline.monitoringJob?.fn;
    expect(
      fn && custom.pipeline.findResources('AWS::Lambda::Function')[logicalId(custom.stacks.pipeline, fn)].Properties,
    ).toMatchObject({ MemorySize: 512, Timeout: 120 });
    expect(() => platformConfig({ monitoringJob: { memorySize: 64, timeoutSeconds: 901 } }, SPECS)).toThrow(
      /platform\.monitoringJob\.memorySize[\s\S]*platform\.monitoringJob\.timeoutSeconds/,
    );
  });

  test('fails at synth with every problem at once: no model, a bad schedule, memory out of range', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Job');
    const base = {
      dataBucket: new s3.Bucket(stack, 'Data'),
      modelBucket: new s3.Bucket(stack, 'Models'),
      stateMachine: new sfn.StateMachine(stack, 'Machine', {
        definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
      }),
    };
    expect(() => new MonitoringJob(stack, 'None', { ...base, models: [] })).toThrow(
      /models must list at least one model to monitor, got none/,
    );
    expect(
      () =>
        new MonitoringJob(stack, 'Bad', {
          ...base,
          models: [
            { name: 'iris', schedule: 'rate(5 minutes)' },
            { name: 'iris', schedule: 'rate(1 hour)' },
          ],
          memorySize: 64,
          timeout: Duration.minutes(20),
        }),
    ).toThrow(
      /memorySize .* got 64[\s\S]*timeout .* got 1200 s[\s\S]*monitoring schedule of "iris" .* got "rate\(5 minutes\)"[\s\S]*"iris" is listed twice/,
    );
  });

  test('a platform where no model captures has no monitoring job', () => {
    const off = dataLoopPlatform(SPECS.map((s) => ({ ...s, monitoring: { capture: { enabled: false } } })));
    expect(off.stacks.pipeline.monitoringJob).toBeUndefined();
    expect(
      Object.values(off.pipeline.findResources('AWS::Lambda::Function')).filter(
        (f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === MONITORING_METRICS_SERVICE,
      ),
    ).toEqual([]);
    expect(
      Object.keys(off.stacks.monitoring.alarms.byId).filter((id) =>
        /^(DriftDetected|LiveAccuracyLow|Monitoring)/.test(id),
      ),
    ).toEqual([]);
  });
});

describe("the data loop's alarms", () => {
  test("DriftDetected per model that captures: the largest feature PSI of a run at or above its spec's threshold, no data not breaching", () => {
    const ids = Object.keys(monitoringStack.alarms.byId).filter((id) => id.startsWith('DriftDetected-'));
    expect(ids.sort()).toEqual(MONITORED.map((m) => `DriftDetected-${m.name}`).sort());
    for (const m of MONITORED) {
      expect(watched(`DriftDetected-${m.name}`)).toEqual({
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: MONITORING_METRICS.maxFeatureDrift,
          Dimensions: expect.arrayContaining([
            { Name: 'model', Value: m.name },
            { Name: 'service', Value: MONITORING_METRICS_SERVICE },
          ]),
        },
        Stat: 'Maximum',
        Period: 3600,
      });
      expect(alarm(`DriftDetected-${m.name}`)).toMatchObject({
        Threshold: m.driftThreshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [alarmTopic],
      });
    }
    expect(alarm('DriftDetected-iris')).toMatchObject({
      Threshold: 0.3,
      AlarmDescription: expect.stringContaining('PSI reached 0.3'),
    });
    expect(alarm('DriftDetected-smoke')).toMatchObject({ Threshold: 0.25 });
  });

  test("LiveAccuracyLow only where the spec sets a floor: the champion's live accuracy below it", () => {
    expect(Object.keys(monitoringStack.alarms.byId).filter((id) => id.startsWith('LiveAccuracyLow-'))).toEqual([
      'LiveAccuracyLow-iris',
    ]);
    expect(watched('LiveAccuracyLow-iris')).toEqual({
      Metric: {
        Namespace: METRICS_NAMESPACE,
        MetricName: MONITORING_METRICS.liveAccuracy,
        Dimensions: expect.arrayContaining([
          { Name: 'model', Value: 'iris' },
          { Name: 'service', Value: MONITORING_METRICS_SERVICE },
        ]),
      },
      Stat: 'Minimum',
      Period: 3600,
    });
    expect(alarm('LiveAccuracyLow-iris')).toMatchObject({
      Threshold: 0.85,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [alarmTopic],
      AlarmDescription: expect.stringMatching(
        /champion of iris was right on less than 0\.85 .* Runbook: docs\/operations\.md, section LiveAccuracyLow\.$/,
      ),
    });
  });

  test('a failed monitoring run and a dead-lettered monitoring event each raise an alarm', () => {
    expect(watched('MonitoringErrors')).toMatchObject({
      Metric: {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [
          { Name: 'FunctionName', Value: { 'Fn::ImportValue': expect.stringMatching(/MonitoringFunction/) } },
        ],
      },
      Stat: 'Sum',
    });
    expect(alarm('MonitoringErrors')).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic],
    });
    expect(watched('MonitoringEventsDeadLettered')).toMatchObject({
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::ImportValue': expect.stringMatching(/MonitoringDeadLetterQueue/) } },
        ],
      },
      Stat: 'Maximum',
    });
    expect(alarm('MonitoringEventsDeadLettered')).toMatchObject({ Threshold: 0, OKActions: [alarmTopic] });
  });

  test('fails at synth on a drift threshold or live-accuracy floor a spec could not hold', () => {
    expect(
      monitoredModelsProblems([
        { name: 'iris', gateMetric: 'macroF1', monitoring: { driftThreshold: 0, liveAccuracyFloor: 1.5 } },
      ]),
    ).toEqual([
      expect.stringContaining(
        'the driftThreshold of "iris" must be a PSI above 0 (the spec\'s monitoring.driftThreshold), got 0',
      ),
      expect.stringContaining(
        'the liveAccuracyFloor of "iris" must be a share above 0 and at most 1 (the spec\'s monitoring.liveAccuracyFloor), got 1.5',
      ),
    ]);
  });
});

describe('the data loop on the dashboard', () => {
  const drawn = drawnMetrics(p.monitoring);
  const lines = (name: string, service: string) =>
    drawn
      .filter((m) => m.namespace === METRICS_NAMESPACE && m.name === name && m.dimensions.service === service)
      .map((m) => m.dimensions.model)
      .sort();
  const monitored = MONITORED.map((m) => m.name).sort();

  test('draws per model that captures: drift of each run, live accuracy, records and matched feedback in the window, drift retrains', () => {
    for (const name of Object.values(MONITORING_METRICS).filter((n) => n !== MONITORING_METRICS.featureDrift))
      expect({ name, models: lines(name, MONITORING_METRICS_SERVICE) }).toEqual({ name, models: monitored });
    expect(lines(MONITORING_METRICS.maxFeatureDrift, MONITORING_METRICS_SERVICE)).not.toContain('sentiment');
  });

  test('PSI per feature comes from a SEARCH per model over the feature dimension', () => {
    expect(drawn.filter((m) => m.name === MONITORING_METRICS.featureDrift).map((m) => m.search)).toEqual(
      MONITORED.map(
        (m) =>
          `SEARCH('{ServerlessMlops,feature,model,service} MetricName="FeatureDrift" service="monitoring" model="${m.name}"'`,
      ),
    );
  });

  test('draws what the inference function captured and accepted (service=inference) and the capture stream as Firehose sees it', () => {
    for (const name of Object.values(CAPTURE_METRICS))
      expect({ name, models: lines(name, INFERENCE_SERVICE) }).toEqual({ name, models: monitored });
    const firehose = drawn.filter((m) => m.namespace === 'AWS/Firehose');
    expect(firehose.map((m) => m.name).sort()).toEqual([
      'DeliveryToS3.DataFreshness',
      'DeliveryToS3.Records',
      'IncomingRecords',
    ]);
    for (const m of firehose) expect(Object.keys(m.dimensions)).toEqual(['DeliveryStreamName']);
  });

  test('each drift graph draws its model\'s alarm threshold and the 0.1 "moderate" line', () => {
    const widget = dashboardBody(p.monitoring).widgets.find((w) =>
      (w.properties as { title?: string }).title?.startsWith('Drift: iris'),
    );
    const annotations = (
      widget?.properties as { annotations?: { horizontal?: { value: number }[] } }
    ).annotations?.horizontal?.map((a) => a.value);
    expect(annotations).toEqual([0.3, 0.1]);
  });
});
