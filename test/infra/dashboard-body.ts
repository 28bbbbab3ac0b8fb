import { Capture, type Template } from 'aws-cdk-lib/assertions';

/** Reading the synthesised dashboard body back, for the infra tests that check what it draws. */

/** One metric line of a graph widget, as the dashboard body holds it. */
export interface DrawnMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** The SEARCH expression it came from, if any. */
  readonly search?: string;
}

/** The dashboard body with every token (Ref, ImportValue) replaced by a placeholder, parsed. */
export function dashboardBody(template: Template): {
  widgets: { type: string; properties: { metrics?: unknown[][]; alarms?: unknown[] } }[];
} {
  const body = new Capture();
  template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardBody: body });
  const [, parts] = (body.asObject() as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : '<token>')).join(''));
}

/** Every metric a graph draws: plain metric arrays, and the metrics SEARCH expressions look for. */
export function drawnMetrics(template: Template): DrawnMetric[] {
  const drawn: DrawnMetric[] = [];
  for (const widget of dashboardBody(template).widgets) {
    for (const entry of widget.properties.metrics ?? []) {
      if (typeof entry[0] === 'string') {
        const [namespace, name, ...rest] = entry as string[];
        const pairs = rest.filter((x) => typeof x === 'string');
        const dimensions = Object.fromEntries(pairs.flatMap((_, i) => (i % 2 === 0 ? [[pairs[i], pairs[i + 1]]] : [])));
        drawn.push({ namespace, name, dimensions });
        continue;
      }
      const expression = (entry[0] as { expression?: string }).expression ?? '';
      for (const [search, schema, terms] of expression.matchAll(/SEARCH\('\{([^}]*)\}([^']*)'/g)) {
        const [namespace, ...dimensionNames] = schema.split(',');
        const filters = Object.fromEntries([...terms.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
        const { MetricName: name = '', ...values } = filters;
        drawn.push({
          namespace,
          name,
          dimensions: Object.fromEntries(dimensionNames.map((d) => [d, values[d] ?? '*'])),
          search,
        });
      }
    }
  }
  return drawn;
}
