import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { METRICS_BY_SERVICE, METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';
import { monitoringSettings } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { InferenceStack } from '../../lib/stacks/inference-stack';
import { MonitoringStack } from '../../lib/stacks/monitoring-stack';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { testApp } from '../helpers/cdk-app';
import { drawnMetrics } from './dashboard-body';

/**
 * The constructs draw and alarm on the names in core/contracts/metrics.ts: a metric in the
 * platform's namespace that a dashboard line or an alarm (any stack: the monitoring stack's, the
 * rollout's canary alarms) reads must be one the contract lists for the `service` it selects.
 */

const SPECS = loadModelSpecs(join(__dirname, '../../config/models'));

function platform() {
  const app = testApp();
  const storage = new StorageStack(app, 'Storage');
  const pipeline = new PipelineStack(app, 'Pipeline', {
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs: SPECS,
  });
  const inference = new InferenceStack(app, 'Inference', {
    modelBucket: storage.modelBucket,
    dataBucket: storage.dataBucket,
  });
  const monitoring = new MonitoringStack(app, 'Monitoring', {
    api: inference.inference,
    inferenceFunction: inference.inference.fn,
    pipelineFunction: pipeline.pipeline.fn,
    stateMachine: pipeline.pipeline.stateMachine,
    pipelineStarts: pipeline.pipeline,
    rollout: pipeline.rollout,
    monitoringJob: pipeline.monitoringJob,
    capture: inference.inference.capture,
    models: SPECS.map((s) => ({
      name: s.name,
      gateMetric: s.gate.metric,
      schedule: s.schedule,
      monitoring: { driftThreshold: monitoringSettings(s).driftThreshold },
    })),
  });
  return { stacks: [storage, pipeline, inference, monitoring] as Stack[], monitoring };
}

interface ReadMetric {
  readonly where: string;
  readonly namespace: string;
  readonly name: string;
  readonly service?: string;
}

type Dimension = { Name: string; Value: unknown };
type MetricStat = { Metric?: { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] } };
type AlarmProperties = {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Dimension[];
  Metrics?: { Expression?: string; MetricStat?: MetricStat }[];
};

const serviceOf = (dimensions: Dimension[] = []) => {
  const value = dimensions.find((d) => d.Name === 'service')?.Value;
  return typeof value === 'string' ? value : undefined;
};

/** Every metric an alarm reads: its own, those of its metric math, and those its SEARCH expressions select. */
function alarmMetrics(stack: Stack): ReadMetric[] {
  const read: ReadMetric[] = [];
  for (const [id, alarm] of Object.entries(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))) {
    const where = `${stack.stackName}/${id}`;
    const p = alarm.Properties as AlarmProperties;
    if (p.MetricName)
      read.push({ where, namespace: p.Namespace ?? '', name: p.MetricName, service: serviceOf(p.Dimensions) });
    for (const m of p.Metrics ?? []) {
      const metric = m.MetricStat?.Metric;
      if (metric?.MetricName)
        read.push({
          where,
          namespace: metric.Namespace ?? '',
          name: metric.MetricName,
          service: serviceOf(metric.Dimensions),
        });
      for (const [, schema, terms] of (m.Expression ?? '').matchAll(/SEARCH\('\{([^}]*)\}([^']*)'/g)) {
        const filters = Object.fromEntries([...terms.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
        read.push({ where, namespace: schema.split(',')[0], name: filters.MetricName ?? '', service: filters.service });
      }
    }
  }
  return read;
}

/** The names a read metric may take: the contract's for its service. */
function contractProblems(read: readonly ReadMetric[]): string[] {
  const services = Object.values(METRICS_SERVICES) as string[];
  return read
    .filter((m) => m.namespace === METRICS_NAMESPACE)
    .flatMap((m) => {
      if (m.service === undefined || !services.includes(m.service))
        return [`${m.where} reads ${m.name} with service=${m.service}, not one of ${services.join(', ')}`];
      const names = METRICS_BY_SERVICE[m.service as keyof typeof METRICS_BY_SERVICE];
      return names.includes(m.name)
        ? []
        : [`${m.where} reads ${m.name}, which the ${m.service} contract does not list`];
    });
}

describe('the metric contract and what the constructs read', () => {
  const { stacks, monitoring } = platform();
  const alarms = stacks.flatMap(alarmMetrics);
  const dashboard: ReadMetric[] = drawnMetrics(Template.fromStack(monitoring)).map((m) => ({
    where: 'dashboard',
    namespace: m.namespace,
    name: m.name,
    service: m.dimensions.service,
  }));

  test('every custom metric an alarm or the dashboard reads is in the contract, under the service it selects', () => {
    const custom = [...alarms, ...dashboard].filter((m) => m.namespace === METRICS_NAMESPACE);
    // Guards the guard: the collectors did find the custom alarms and lines.
    expect(alarms.filter((m) => m.namespace === METRICS_NAMESPACE).length).toBeGreaterThan(5);
    expect(custom.length).toBeGreaterThan(20);
    expect(contractProblems(custom)).toEqual([]);
  });

  test('the check fails for a name the contract does not list, and for a service it does not know', () => {
    expect(
      contractProblems([
        { where: 'x', namespace: METRICS_NAMESPACE, name: 'ModelLoadFailure', service: METRICS_SERVICES.inference },
        { where: 'y', namespace: METRICS_NAMESPACE, name: 'Promoted', service: METRICS_SERVICES.inference },
        { where: 'z', namespace: METRICS_NAMESPACE, name: 'Promoted', service: 'training' },
      ]),
    ).toHaveLength(3);
  });

  test("every function that publishes metrics does so under the contract's namespace and one of its services", () => {
    const services = Object.values(METRICS_SERVICES) as string[];
    const publishing = stacks.flatMap((stack) =>
      Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
        .map((f) => (f.Properties.Environment?.Variables ?? {}) as Record<string, unknown>)
        .filter((env) => env.POWERTOOLS_SERVICE_NAME !== undefined),
    );
    expect(publishing.length).toBeGreaterThanOrEqual(3);
    for (const env of publishing) {
      expect(services).toContain(env.POWERTOOLS_SERVICE_NAME);
      expect(env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
    }
  });
});
