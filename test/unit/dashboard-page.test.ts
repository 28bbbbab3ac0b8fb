import { createHash } from 'node:crypto';
import { DASHBOARD_HEADERS, DASHBOARD_HTML, DASHBOARD_SCRIPT } from '../../local/dashboard-page';
import { type DashboardData, LocalMetrics, PANEL_IDS } from '../../local/local-metrics';
import { INFERENCE_METRICS } from '../../lambdas/inference/metrics';
import { PIPELINE_METRICS } from '../../lambdas/pipeline/metrics';
import type { MetricRecord } from '../../lambdas/shared/metrics';

const inline = (tag: 'script' | 'style') =>
  [...DASHBOARD_HTML.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const csp = DASHBOARD_HEADERS['content-security-policy'];

/** Just enough DOM for the page's own script: elements by id, a <p>, text. */
class FakeElement {
  readonly children: FakeElement[] = [];
  className = '';
  clientWidth = 600;
  private text = '';
  constructor(readonly tagName: string) {}
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
}

interface SeriesOptions {
  label?: string;
  stroke?: string;
  scale?: string;
  points?: { show: boolean };
  paths?: { kind: string };
  value: (u: unknown, v: unknown, s: number, idx: number | null) => string;
}
interface PlotOptions {
  series: SeriesOptions[];
  scales: Record<string, { distr?: number; range?: unknown }>;
  axes: { scale?: string; side?: number }[];
}

/** Stands in for uPlot: records what each chart was given. */
function fakeUPlot() {
  const made: { options: PlotOptions; data: (number | null)[][]; host: FakeElement; destroyed: boolean }[] = [];
  const uPlot = function (this: unknown, options: PlotOptions, data: (number | null)[][], host: FakeElement) {
    const chart = { options, data, host, destroyed: false };
    made.push(chart);
    host.replaceChildren(new FakeElement('canvas'));
    return {
      setData: (next: (number | null)[][]) => (chart.data = next),
      destroy: () => (chart.destroyed = true),
      setSize: () => undefined,
    };
  } as unknown as { paths: unknown };
  uPlot.paths = {
    bars: () => ({ kind: 'bars' }),
    stepped: () => ({ kind: 'stepped' }),
  };
  return { uPlot, made };
}

/** Runs the page's own script against `answer` (the GET /dashboard/data response) and lets it render once. */
async function renderPage(answer: () => Promise<unknown>) {
  const elements = new Map(
    [...DASHBOARD_HTML.matchAll(/<(\w+)[^>]*\sid="([^"]+)"/g)].map(([, tag, id]) => [id, new FakeElement(tag)]),
  );
  const document = {
    getElementById: (id: string) => elements.get(id) ?? null,
    createElement: (tag: string) => new FakeElement(tag),
  };
  const window = { addEventListener: jest.fn() };
  const fetch = jest.fn(answer);
  const setInterval = jest.fn();
  const { uPlot, made } = fakeUPlot();
  new Function('document', 'window', 'fetch', 'setInterval', 'uPlot', DASHBOARD_SCRIPT)(
    document,
    window,
    fetch,
    setInterval,
    uPlot,
  );
  await new Promise((resolve) => setImmediate(resolve));
  const byId = (id: string) => elements.get(id) as FakeElement;
  const chart = (id: string) => {
    const found = made.find((c) => c.host === byId(`chart-${id}`) && !c.destroyed);
    if (!found) throw new Error(`no chart drawn in ${id}`);
    return found;
  };
  const labels = (id: string) =>
    chart(id)
      .options.series.slice(1)
      .map((s) => s.label);
  return { byId, chart, labels, fetch, setInterval, made };
}

const T = 1_700_000_000_000;
const record = (name: string, value: number, dimensions: Record<string, string>): MetricRecord => ({
  name,
  unit: 'Count',
  value,
  dimensions,
});

/** What LocalMetrics gives after a little traffic and runs of every kind. */
function someData(): DashboardData {
  const metrics = new LocalMetrics({ clock: () => T });
  for (const [status, latencyMs] of [
    [200, 900],
    [404, 3],
    [500, 4],
  ])
    metrics.recordRequest({ method: 'POST', path: '/models/iris/predict', status, latencyMs });
  metrics.recordMetric(record(INFERENCE_METRICS.predictions, 2, { model: 'iris', version: '1', class: 'setosa' }));
  metrics.recordMetric(record(INFERENCE_METRICS.modelVersionInService, 2, { model: 'iris' }));
  metrics.recordMetric(record(INFERENCE_METRICS.variantRequests, 1, { model: 'iris', variant: 'champion' }));
  for (const outcome of ['promoted', 'rejected', 'promoted'])
    metrics.recordMetric(record(PIPELINE_METRICS.runs, 1, { model: 'iris', outcome }));
  metrics.recordMetric(record(PIPELINE_METRICS.runFailures, 1, { model: 'iris' }));
  metrics.recordMetric(record(PIPELINE_METRICS.quarantinedFiles, 1, { model: 'iris' }));
  metrics.recordMetric(record(PIPELINE_METRICS.candidateScore, 0.9, { model: 'iris', metric: 'macroF1' }));
  metrics.recordMetric(record(PIPELINE_METRICS.promoted, 1, { model: 'iris' }));
  return metrics.snapshot();
}
const ok = async () => ({ ok: true, status: 200, json: async () => someData() });

describe('dashboard page', () => {
  test('the CSP allows exactly the inline script (uPlot and the page) and style in the page', () => {
    const [script, style] = [inline('script'), inline('style')];

    expect([script.length, style.length]).toEqual([1, 1]);
    expect(script[0]).toContain('var uPlot=');
    expect(script[0]).toContain(DASHBOARD_SCRIPT);
    expect(style[0]).toContain('.uplot');
    expect(csp).toContain(`script-src ${sha256(script[0])};`);
    expect(csp).toContain(`style-src ${sha256(style[0])};`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
  });

  test("loads nothing from other hosts and links only back to this server (the one URL is uPlot's licence line)", () => {
    expect(DASHBOARD_HTML).not.toMatch(/\bsrc=/i);
    expect([...DASHBOARD_HTML.matchAll(/https?:\/\/\S+/g)].map((m) => m[0])).toEqual([
      'https://github.com/leeoniya/uPlot',
    ]);
    expect([...DASHBOARD_HTML.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['/']);
  });

  test('has a chart for every panel LocalMetrics gives', () => {
    const charts = [...DASHBOARD_HTML.matchAll(/data-chart="([^"]+)"[^>]*>.*?<div id="chart-\1"/g)].map((m) => m[1]);
    expect(charts).toEqual(PANEL_IDS);
  });

  test('never builds HTML from data', () => {
    expect(DASHBOARD_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  test('polls GET /dashboard/data every 5 s', async () => {
    const page = await renderPage(ok);

    expect(page.fetch).toHaveBeenCalledWith('/dashboard/data', expect.anything());
    expect(page.setInterval).toHaveBeenCalledWith(expect.any(Function), 5000);
  });

  test('draws a uPlot line per series, every point shown, requests per minute', async () => {
    const page = await renderPage(ok);

    expect(page.labels('requests')).toEqual(['requests', '4xx', '5xx']);
    expect(page.labels('predictions')).toEqual(['iris setosa']);
    // 3 requests in a 10 s bucket are 18 per minute; one point is drawn, as a point.
    const { data, options } = page.chart('requests');
    expect(data[1]).toEqual([18]);
    expect(options.series.slice(1).every((s) => s.points?.show === true)).toBe(true);
  });

  test('colours runs by what happened to them, stacks them, and shows each bar its own count', async () => {
    const page = await renderPage(ok);
    const { options, data } = page.chart('pipeline-runs');
    const colours = Object.fromEntries(options.series.slice(1).map((s) => [s.label, s.stroke]));

    expect(colours).toEqual({
      'iris promoted': '#16a34a',
      'iris rejected': '#d97706',
      'iris failed': '#dc2626',
      'iris quarantined': '#7c3aed',
    });
    // Drawn from the top of the stack down: quarantined holds the total of all four (2 + 1 + 1 + 1).
    expect(options.series[1].label).toBe('iris quarantined');
    expect(data[1]).toEqual([5]);
    expect(options.series[1].value(undefined, 5, 1, 0)).toBe('1');
    expect(options.series.slice(1).every((s) => s.paths?.kind === 'bars')).toBe(true);
  });

  test('versions are steps, latency is on a log scale, scores and promotions on separate axes', async () => {
    const page = await renderPage(ok);

    expect(page.chart('model-version').options.series[1].paths).toEqual({ kind: 'stepped' });
    // One 900 ms cold start next to 3-4 ms requests: a log scale keeps both readable.
    expect(page.chart('api-latency').options.scales.y.distr).toBe(3);
    expect(page.chart('requests').options.scales.y.distr).toBeUndefined();
    const scores = page.chart('scores').options;
    const promoted = scores.series.find((s) => s.label === 'iris promoted');
    const candidate = scores.series.find((s) => s.label === 'iris candidate (macroF1)');
    expect([promoted?.scale, candidate?.scale]).toEqual(['promoted', 'y']);
    expect(scores.axes.find((a) => a.scale === 'promoted')?.side).toBe(1);
    expect(scores.scales.promoted.range).toEqual([0, 1]);
  });

  test('says "no data yet" in a panel without points, and draws no chart there', async () => {
    const page = await renderPage(ok);

    expect(page.byId('chart-drift').textContent).toBe('no data yet');
    expect(() => page.chart('drift')).toThrow('no chart drawn in drift');
  });

  test('the headline numbers add up: requests by status, runs by how they ended', async () => {
    const page = await renderPage(ok);
    const text = (id: string) => page.byId(id).textContent;

    expect([text('t-requests'), text('t-requests-detail'), text('t-errors')]).toEqual([
      '3',
      '1 ok + 1 4xx + 1 5xx',
      '66.7%',
    ]);
    expect(text('t-predictions')).toBe('2');
    expect([text('t-runs'), text('t-runs-detail')]).toEqual([
      '5',
      '2 promoted + 1 rejected + 1 failed + 1 quarantined',
    ]);
  });

  test('says why when the data cannot be loaded', async () => {
    const page = await renderPage(async () => ({ ok: false, status: 502, json: async () => ({}) }));

    expect(page.byId('status').textContent).toBe('Cannot load metrics: Error: HTTP 502');
  });
});
