import { readFileSync } from 'node:fs';
import { selfContainedPage } from '../lambdas/shared/html-page';
import type { PanelId } from './local-metrics';

/**
 * GET /dashboard on the local platform: the CloudWatch dashboard's view of the local metrics.
 * The page polls GET /dashboard/data (LocalMetrics.snapshot()) every 5 s and draws each panel
 * with uPlot (a small, fast canvas charting library), whose script and stylesheet are inlined
 * from node_modules when this module loads, so the Content-Security-Policy still allows exactly
 * one inline script and one inline style, by hash, and nothing from any other host. Data is
 * inserted with textContent and canvas drawing, never as HTML.
 *
 * How the charts read: versions as steps; runs coloured by what happened to them (promoted
 * green, canary teal, rejected amber, failed red, quarantined purple); scores on the left axis
 * and "promoted" (0/1) on its own right axis; every point drawn, so a single one is visible;
 * latency on a log scale, so one cold start does not flatten the rest of the chart.
 */

/** Titles per panel, in page order; the record type makes a new panel in LocalMetrics fail to compile here. */
const PANEL_TITLES: Readonly<Record<PanelId, string>> = {
  requests: 'Requests per minute',
  'api-latency': 'API latency (ms) p50/p90/p99',
  'inference-latency': 'Inference latency (ms)',
  predictions: 'Predictions per class',
  'model-version': 'Model version in service',
  variants: 'Requests per minute by variant (champion / canary)',
  shadow: 'Shadow agreement with the answers (share of rows)',
  drift: 'Drift per feature (PSI; 0.1 moderate, 0.25 significant)',
  'live-accuracy': 'Live accuracy (labelled answers)',
  'data-loop': 'Captured answers and feedback labels',
  'pipeline-runs': 'Pipeline runs',
  scores: 'Candidate vs champion score',
  health: 'Cold starts and model load failures',
};

// Named in full so the dependency checker (knip) sees the package in use.
const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

const STYLE = `${UPLOT_CSS}
body{font-family:system-ui,sans-serif;max-width:90rem;margin:1.5rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem;display:inline;margin-right:1rem}h2{font-size:1rem;margin:0 0 .4rem}
#totals{display:flex;gap:2rem;flex-wrap:wrap;margin:1rem 0}#totals div{font-size:.85rem;color:#667}
#totals b{display:block;font-size:1.4rem;color:#1d2330}#totals small{display:block;color:#667}
#status{color:#667;font-size:.85rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:1rem}
section{border:1px solid #dde;border-radius:6px;padding:.8rem;min-width:0}.empty{color:#667;margin:3rem 0;text-align:center}
.u-legend{font-size:.8rem}
`;

/** The page's own script, apart so a test can run it with a stand-in for uPlot. */
export const DASHBOARD_SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const PANELS = ${JSON.stringify(Object.keys(PANEL_TITLES))};
const HEIGHT = 200;
const PALETTE = ['#2563eb', '#db2777', '#0891b2', '#4b5563', '#65a30d', '#9333ea', '#ea580c', '#0f766e'];
// Colours by meaning, from the end of a series' name; other series take the palette in turn.
const MEANING = [
  [/(^| )promoted$/, '#16a34a'], [/(^| )canary$/, '#0891b2'], [/(^| )rejected$/, '#d97706'],
  [/(^| )(failed|5xx|load failures|capture errors)$/, '#dc2626'], [/(^| )quarantined$/, '#7c3aed'],
  [/(^| )4xx$/, '#d97706'], [/(^| )no-new-data$/, '#9ca3af'],
];
// Panels whose per-bucket counts read better as a rate.
const PER_MINUTE = new Set(['requests', 'variants']);
// Latency: a log scale, so one cold start (hundreds of ms) does not flatten the warm requests (a few ms).
const LOG_SCALE = new Set(['api-latency', 'inference-latency']);
// A version holds until the next one: drawn as steps.
const STEPPED = new Set(['model-version']);
const charts = new Map();

function colorOf(name, i) {
  for (const [pattern, color] of MEANING) if (pattern.test(name)) return color;
  return PALETTE[i % PALETTE.length];
}
const num = (v) => (v === null || v === undefined ? '-' : String(Number(v.toPrecision(3))));
// Axis ticks: uPlot passes null for the log scale's unlabelled minor ticks.
const tick = (v) => (v === null ? '' : num(v));
const time = (t) => new Date(t).toLocaleTimeString();
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * uPlot's aligned data for a panel: x in seconds (every bucket any series has), one array per
 * series with null where it has no point. Bar panels stack: each series holds the running total
 * of itself and those before it, and is drawn from the tallest down; \`raw\` keeps the values.
 */
function plotData(panel, bucketMs) {
  const scale = PER_MINUTE.has(panel.id) ? 60000 / bucketMs : 1;
  const series = panel.series.filter((s) => s.points.length > 0);
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const raw = series.map((s) => {
    const at = new Map(s.points.map(([t, v]) => [t, v * scale]));
    return xs.map((t) => {
      const v = at.has(t) ? at.get(t) : null;
      return LOG_SCALE.has(panel.id) && v !== null && v <= 0 ? null : v;
    });
  });
  let ys = raw;
  if (panel.kind === 'bar') {
    const below = xs.map(() => 0);
    ys = raw.map((values) => values.map((v, i) => (v === null ? null : (below[i] += v))));
  }
  return { names: series.map((s) => s.name), xs: xs.map((t) => t / 1000), ys, raw };
}

function options(panel, names, raw, width, range) {
  const bars = panel.kind === 'bar';
  const scores = panel.id === 'scores';
  const order = names.map((_, i) => i);
  if (bars) order.reverse();
  const series = [{ value: (u, t) => (t === null ? '-' : time(t * 1000)) }];
  for (const i of order) {
    const name = names[i];
    const color = colorOf(name, i);
    const onRight = scores && / promoted$/.test(name);
    series.push({
      label: name,
      stroke: color,
      fill: bars ? color : undefined,
      width: bars ? 0 : 2,
      scale: onRight ? 'promoted' : 'y',
      spanGaps: false,
      points: { show: !bars, size: 6, fill: color, stroke: color },
      paths: bars
        ? uPlot.paths.bars({ size: [0.8, 40], align: 0 })
        : STEPPED.has(panel.id) || onRight
          ? uPlot.paths.stepped({ align: 1 })
          : undefined,
      value: (u, v, s, idx) => num(idx === null ? null : raw[i][idx]),
    });
  }
  // Scores (accuracy, macro F1) are shares: always 0 to 1, so two runs compare at a glance.
  const y = LOG_SCALE.has(panel.id)
    ? { distr: 3, log: 10 }
    : scores
      ? { range: [0, 1] }
      : { range: (u, min, max) => [Math.min(0, min === null ? 0 : min), max === null || max <= 0 ? 1 : max * 1.05] };
  const axes = [{ space: 70, values: (u, ticks) => ticks.map((t) => clock(t * 1000)) }, { size: 56, label: scores ? 'score' : undefined, values: (u, ticks) => ticks.map(tick) }];
  if (STEPPED.has(panel.id)) axes[1].values = (u, ticks) => ticks.map((v) => (Number.isInteger(v) ? String(v) : ''));
  if (scores) axes.push({ scale: 'promoted', side: 1, size: 64, grid: { show: false }, label: 'promoted', values: (u, ticks) => ticks.map((v) => (v === 1 ? 'yes' : v === 0 ? 'no' : '')) });
  return {
    width,
    height: HEIGHT,
    scales: { x: { time: true, range: () => range }, y, promoted: { range: [0, 1] } },
    axes,
    series,
    cursor: { drag: { x: false, y: false } },
  };
}

function draw(panel, bucketMs, range) {
  const host = $('chart-' + panel.id);
  const { names, xs, ys, raw } = plotData(panel, bucketMs);
  const previous = charts.get(panel.id);
  if (names.length === 0) {
    if (previous) previous.chart.destroy();
    charts.delete(panel.id);
    host.replaceChildren(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'no data yet' }));
    return;
  }
  const order = names.map((_, i) => i);
  if (panel.kind === 'bar') order.reverse();
  const data = [xs, ...order.map((i) => ys[i])];
  const key = JSON.stringify(names);
  if (previous && previous.key === key) {
    previous.raw.splice(0, previous.raw.length, ...raw);
    previous.range.splice(0, 2, ...range);
    previous.chart.setData(data);
    return;
  }
  if (previous) previous.chart.destroy();
  host.replaceChildren();
  const kept = [...raw];
  const keptRange = [...range];
  const chart = new uPlot(options(panel, names, kept, Math.max(300, host.clientWidth), keptRange), data, host);
  charts.set(panel.id, { chart, key, raw: kept, range: keptRange });
}

/** The headline numbers; each detail line adds up to the number above it. */
function showTotals(totals) {
  const errors = totals.clientErrors + totals.serverErrors;
  $('t-requests').textContent = String(totals.requests);
  $('t-requests-detail').textContent = (totals.requests - errors) + ' ok + ' + totals.clientErrors + ' 4xx + ' + totals.serverErrors + ' 5xx';
  $('t-errors').textContent = totals.requests ? (100 * errors / totals.requests).toFixed(1) + '%' : '-';
  $('t-predictions').textContent = String(totals.predictions);
  // A run ends one way: with an outcome (promoted, canary, rejected, no-new-data), failed, or with its upload quarantined.
  const parts = Object.assign({ promoted: 0, rejected: 0 }, totals.runs, { failed: totals.runFailures, quarantined: totals.quarantinedFiles });
  const named = ['promoted', 'canary', 'rejected', 'failed', 'quarantined'];
  const order = [...named.filter((k) => k in parts), ...Object.keys(parts).filter((k) => !named.includes(k)).sort()];
  const shown = order.filter((k) => parts[k] > 0 || ['promoted', 'rejected', 'failed', 'quarantined'].includes(k));
  $('t-runs').textContent = String(order.reduce((sum, k) => sum + parts[k], 0));
  $('t-runs-detail').textContent = shown.map((k) => parts[k] + ' ' + k.replace(/-/g, ' ')).join(' + ');
}

function render(data) {
  showTotals(data.totals);
  // One time axis for every chart: from the first point (at least 5 minutes back) to now.
  const t1 = Math.floor(data.generatedAt / data.bucketMs) * data.bucketMs + data.bucketMs;
  let t0 = t1 - 5 * 60000;
  for (const panel of data.panels) for (const s of panel.series) if (s.points.length) t0 = Math.min(t0, s.points[0][0]);
  const range = [Math.max(t0, data.from) / 1000, t1 / 1000];
  for (const id of PANELS) draw(data.panels.find((p) => p.id === id) || { id, kind: 'line', series: [] }, data.bucketMs, range);
  $('status').textContent = 'Updated ' + time(data.generatedAt) + ', every 5 s';
}

async function refresh() {
  try {
    const res = await fetch('/dashboard/data', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
  } catch (err) {
    $('status').textContent = 'Cannot load metrics: ' + String(err);
  }
}

window.addEventListener('resize', () => {
  for (const [id, { chart }] of charts) chart.setSize({ width: Math.max(300, $('chart-' + id).clientWidth), height: HEIGHT });
});
refresh();
setInterval(refresh, 5000);
`;

const panels = Object.entries(PANEL_TITLES)
  .map(
    ([id, title]) =>
      `<section data-chart="${id}"><h2>${title}</h2><div id="chart-${id}" role="img" aria-label="${title}"></div></section>`,
  )
  .join('\n');

const PAGE = selfContainedPage({
  title: 'Local dashboard',
  style: STYLE,
  script: `${UPLOT_JS}\n${DASHBOARD_SCRIPT}`,
  formAction: "'none'",
  body: `
<h1>Local dashboard</h1><a href="/">Try a model</a>
<div id="totals">
<div>Requests<b id="t-requests">-</b><small id="t-requests-detail"></small></div>
<div>Error rate<b id="t-errors">-</b><small>4xx and 5xx</small></div>
<div>Predictions<b id="t-predictions">-</b><small>rows answered</small></div>
<div>Retraining runs<b id="t-runs">-</b><small id="t-runs-detail"></small></div>
</div>
<p id="status" aria-live="polite">Loading…</p>
<main>
${panels}
</main>`,
});

export const DASHBOARD_HTML = PAGE.html;

/** Only the inline script (uPlot + DASHBOARD_SCRIPT) and style may run; data comes from this server only. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = PAGE.headers;
