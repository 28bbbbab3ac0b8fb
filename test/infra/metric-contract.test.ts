import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { METRICS_BY_SERVICE, METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';
import { drawnMetrics } from './dashboard-body';
import { platform } from './platform';

/**
 * The constructs draw and alarm on the names in core/contracts/metrics.ts: a metric in the
 * platform's namespace that a dashboard line or an alarm (any stack: the monitoring stack's, the
 * rollout's canary alarms) reads must be one the contract lists for the `service` it selects.
 */

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
  const { storage, pipeline, inference, monitoring, template } = platform();
  const stacks: Stack[] = [storage, pipeline, inference, monitoring];
  const alarms = stacks.flatMap(alarmMetrics);
  const dashboard: ReadMetric[] = drawnMetrics(template).map((m) => ({
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
