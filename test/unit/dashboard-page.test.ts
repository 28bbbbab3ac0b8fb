import { createHash } from 'node:crypto';
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from '../../local/dashboard-page';
import { type DashboardData, LocalMetrics, PANEL_IDS } from '../../local/local-metrics';
import { INFERENCE_METRICS } from '../../lambdas/inference/metrics';
import { PIPELINE_METRICS } from '../../lambdas/pipeline/metrics';

const inline = (tag: 'script' | 'style') =>
  [...DASHBOARD_HTML.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const csp = DASHBOARD_HEADERS['content-security-policy'];

/** Just enough DOM to run the page's script: elements by id from the page's HTML, SVG children, text. */
class FakeElement {
  readonly children: FakeElement[] = [];
  readonly attributes = new Map<string, string>();
  private text = '';
  constructor(
    readonly tagName: string,
    readonly namespaceURI: string,
  ) {}
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, value);
  }
  append(...nodes: FakeElement[]): void {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes: FakeElement[]): void {
    this.text = '';
    this.children.splice(0, this.children.length, ...nodes);
  }
  get textContent(): string {
    return this.text + this.children.map((child) => child.textContent).join('');
  }
  set textContent(value: string) {
    this.replaceChildren();
    this.text = value;
  }
  set innerHTML(_html: string) {
    throw new Error('the page inserted HTML');
  }
  all(tag: string): FakeElement[] {
    return this.children.flatMap((child) => [...(child.tagName === tag ? [child] : []), ...child.all(tag)]);
  }
}

const SVG_NS = 'svg-namespace';

/** Runs the page's script against `answer` (the GET /dashboard/data response) and lets it render once. */
async function renderPage(answer: () => Promise<unknown>) {
  const elements = new Map(
    [...DASHBOARD_HTML.matchAll(/<(\w+)[^>]*\sid="([^"]+)"/g)].map(([, tag, id]) => [
      id,
      new FakeElement(tag, tag === 'svg' ? SVG_NS : 'html'),
    ]),
  );
  const document = {
    getElementById: (id: string) => elements.get(id) ?? null,
    createElementNS: (ns: string, tag: string) => new FakeElement(tag, ns),
  };
  const fetch = jest.fn(answer);
  const setInterval = jest.fn();
  new Function('document', 'fetch', 'setInterval', inline('script')[0])(document, fetch, setInterval);
  await new Promise((resolve) => setImmediate(resolve));
  const byId = (id: string) => elements.get(id) as FakeElement;
  const series = (id: string, tag: string) => [
    ...new Set(
      byId(`chart-${id}`)
        .all(tag)
        .map((node) => node.attributes.get('data-series'))
        .filter((name) => name !== undefined),
    ),
  ];
  return { byId, series, fetch, setInterval };
}

/** What LocalMetrics gives after a little traffic and one promoted run. */
function someData(): DashboardData {
  const now = 1_700_000_000_000;
  const metrics = new LocalMetrics({ clock: () => now });
  for (const status of [200, 404, 500])
    metrics.recordRequest({ method: 'POST', path: '/models/iris/predict', status, latencyMs: 12 });
  metrics.recordMetric({
    name: INFERENCE_METRICS.predictions,
    unit: 'Count',
    value: 2,
    dimensions: { model: 'iris', version: '1', class: 'setosa' },
  });
  metrics.recordMetric({
    name: INFERENCE_METRICS.variantRequests,
    unit: 'Count',
    value: 1,
    dimensions: { model: 'iris', variant: 'champion' },
  });
  metrics.recordMetric({
    name: INFERENCE_METRICS.variantRequests,
    unit: 'Count',
    value: 1,
    dimensions: { model: 'iris', variant: 'canary' },
  });
  metrics.recordMetric({
    name: INFERENCE_METRICS.shadowAgreement,
    unit: 'None',
    value: 0.5,
    dimensions: { model: 'iris' },
  });
  metrics.recordMetric({
    name: PIPELINE_METRICS.runs,
    unit: 'Count',
    value: 1,
    dimensions: { model: 'iris', outcome: 'promoted' },
  });
  metrics.recordMetric({
    name: PIPELINE_METRICS.quarantinedFiles,
    unit: 'Count',
    value: 1,
    dimensions: { model: 'iris' },
  });
  return metrics.snapshot();
}

describe('dashboard page', () => {
  test('the CSP allows exactly the inline script and style in the page', () => {
    const [script, style] = [inline('script'), inline('style')];

    expect([script.length, style.length]).toEqual([1, 1]);
    expect(csp).toContain(`script-src ${sha256(script[0])};`);
    expect(csp).toContain(`style-src ${sha256(style[0])};`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
  });

  test('loads nothing from other hosts and links only back to this server', () => {
    expect(DASHBOARD_HTML).not.toMatch(/https?:\/\//i);
    expect(DASHBOARD_HTML).not.toMatch(/\bsrc=/i);
    expect([...DASHBOARD_HTML.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['/']);
  });

  test('has a chart for every panel LocalMetrics gives', () => {
    const charts = [...DASHBOARD_HTML.matchAll(/data-chart="([^"]+)"[^>]*>.*?<svg id="chart-\1"/g)].map((m) => m[1]);
    expect(charts).toEqual(PANEL_IDS);
  });

  test('never builds HTML from data', () => {
    expect(inline('script')[0]).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  test('polls GET /dashboard/data every 5 s', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(page.fetch).toHaveBeenCalledWith('/dashboard/data', expect.anything());
    expect(page.setInterval).toHaveBeenCalledWith(expect.any(Function), 5000);
  });

  test('draws a line per series with a legend and min/max axis labels, requests per minute', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(page.series('requests', 'path')).toEqual(['requests', '4xx', '5xx']);
    expect(page.series('predictions', 'path')).toEqual(['iris setosa']);
    const labels = page
      .byId('chart-requests')
      .all('text')
      .map((node) => node.textContent);
    // 3 requests in a 10 s bucket are 18 per minute
    expect(labels).toEqual(expect.arrayContaining(['18', '0', 'requests', '4xx', '5xx']));
    expect(page.byId('chart-requests').textContent).not.toContain('no data yet');
  });

  test('shows the rollout split: requests per minute by variant, and the shadow agreement', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(page.series('variants', 'path')).toEqual(['iris canary', 'iris champion']);
    // 1 request in a 10 s bucket is 6 per minute
    expect(
      page
        .byId('chart-variants')
        .all('text')
        .map((node) => node.textContent),
    ).toContain('6');
    expect(page.series('shadow', 'path')).toEqual(['iris agreement']);
    expect(
      page
        .byId('chart-shadow')
        .all('text')
        .map((node) => node.textContent),
    ).toContain('0.5');
  });

  test('stacks a bar per series and bucket in bar panels', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(page.series('pipeline-runs', 'rect')).toEqual(['iris promoted', 'iris quarantined']);
  });

  test('says "no data yet" in a panel without points', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(page.byId('chart-scores').textContent).toContain('no data yet');
    expect(page.byId('chart-scores').all('path')).toEqual([]);
  });

  test('shows the totals at the top', async () => {
    const page = await renderPage(async () => ({ ok: true, status: 200, json: async () => someData() }));

    expect(['t-requests', 't-errors', 't-predictions', 't-runs'].map((id) => page.byId(id).textContent)).toEqual([
      '3',
      '66.7% (1 4xx, 1 5xx)',
      '2',
      '1 (1 promoted, 0 rejected, 0 failed, 1 quarantined)',
    ]);
  });

  test('says why when the data cannot be loaded', async () => {
    const page = await renderPage(async () => ({ ok: false, status: 502, json: async () => ({}) }));

    expect(page.byId('status').textContent).toBe('Cannot load metrics: Error: HTTP 502');
  });
});
