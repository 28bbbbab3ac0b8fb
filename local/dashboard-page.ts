import { selfContainedPage } from '../lambdas/shared/html-page';
import type { PanelId } from './local-metrics';

/**
 * GET /dashboard on the local platform: the CloudWatch dashboard's view of the local metrics.
 * The page polls GET /dashboard/data (LocalMetrics.snapshot()) every 5 s and draws each panel as
 * an inline SVG chart. Inline script and style only (no external assets, no CDN); the
 * Content-Security-Policy allows exactly those. Data is inserted with textContent and SVG
 * attributes, never as HTML.
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

const STYLE = `
body{font-family:system-ui,sans-serif;max-width:90rem;margin:1.5rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem;display:inline;margin-right:1rem}h2{font-size:1rem;margin:0 0 .4rem}
#totals{display:flex;gap:2rem;flex-wrap:wrap;margin:1rem 0}#totals div{font-size:.85rem;color:#667}
#totals b{display:block;font-size:1.4rem;color:#1d2330}#status{color:#667;font-size:.85rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:1rem}
section{border:1px solid #dde;border-radius:6px;padding:.8rem}svg{width:100%;height:auto;font-size:11px}
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const PANELS = ${JSON.stringify(Object.keys(PANEL_TITLES))};
const W = 640, H = 190, LEFT = 56, RIGHT = 12, TOP = 10, BOTTOM = 22, ROW = 16;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
// Panels whose per-bucket counts read better as a rate.
const PER_MINUTE = new Set(['requests', 'variants']);

function add(parent, tag, attrs, text) {
  const node = document.createElementNS(parent.namespaceURI, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  parent.append(node);
  return node;
}
const num = (v) => String(Number(v.toPrecision(3)));
const time = (t) => new Date(t).toLocaleTimeString();

function draw(svg, panel, axis) {
  svg.replaceChildren();
  const scale = PER_MINUTE.has(panel.id) ? 60000 / axis.bucketMs : 1;
  const series = panel.series.filter((s) => s.points.length > 0)
    .map((s) => ({ name: s.name, points: s.points.map(([t, v]) => [t, v * scale]) }));
  const plotW = W - LEFT - RIGHT;
  const x = (t) => LEFT + ((t - axis.t0) / (axis.t1 - axis.t0)) * plotW;
  // Legend rows below the plot: items flow left to right and wrap.
  let lx = LEFT, ly = H + ROW;
  const legend = series.map((s, i) => {
    const width = 24 + 6.5 * s.name.length;
    if (lx + width > W && lx > LEFT) { lx = LEFT; ly += ROW; }
    const item = { s, color: COLORS[i % COLORS.length], x: lx, y: ly };
    lx += width + 8;
    return item;
  });
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + (series.length ? ly + 6 : H));
  add(svg, 'line', { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM, stroke: '#99a' });
  add(svg, 'line', { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, stroke: '#99a' });
  add(svg, 'text', { x: LEFT, y: H - 6 }, time(axis.t0));
  add(svg, 'text', { x: W - RIGHT, y: H - 6, 'text-anchor': 'end' }, time(axis.t1));
  if (series.length === 0) {
    add(svg, 'text', { x: LEFT + plotW / 2, y: H / 2, 'text-anchor': 'middle', fill: '#667' }, 'no data yet');
    return;
  }
  // Bars stack per bucket, so their axis goes up to the tallest stack.
  const stacks = new Map();
  for (const s of series) for (const [t, v] of s.points) stacks.set(t, (stacks.get(t) || 0) + v);
  const values = panel.kind === 'bar' ? [...stacks.values()] : series.flatMap((s) => s.points.map((p) => p[1]));
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values) > lo ? Math.max(...values) : lo + 1;
  const y = (v) => H - BOTTOM - ((v - lo) / (hi - lo)) * (H - BOTTOM - TOP);
  add(svg, 'text', { x: LEFT - 4, y: TOP + 8, 'text-anchor': 'end' }, num(hi));
  add(svg, 'text', { x: LEFT - 4, y: H - BOTTOM, 'text-anchor': 'end' }, num(lo));
  const base = new Map();
  for (const { s, color, x: legendX, y: legendY } of legend) {
    if (panel.kind === 'bar') {
      const width = Math.max(1, (axis.bucketMs / (axis.t1 - axis.t0)) * plotW - 1);
      for (const [t, v] of s.points) {
        const below = base.get(t) || 0;
        base.set(t, below + v);
        if (v > 0) add(svg, 'rect', { x: x(t), y: y(below + v), width, height: y(below) - y(below + v), fill: color, 'data-series': s.name });
      }
    } else {
      const d = s.points.map(([t, v], i) => (i ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1)).join(' ');
      add(svg, 'path', { d: s.points.length === 1 ? d + ' h1' : d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linecap': 'round', 'data-series': s.name });
    }
    add(svg, 'rect', { x: legendX, y: legendY - 9, width: 14, height: 10, fill: color });
    add(svg, 'text', { x: legendX + 18, y: legendY }, s.name);
  }
}

function showTotals(totals) {
  const runs = totals.runs || {};
  const finished = Object.values(runs).reduce((a, b) => a + b, 0);
  const errors = totals.clientErrors + totals.serverErrors;
  $('t-requests').textContent = String(totals.requests);
  $('t-errors').textContent = totals.requests ? (100 * errors / totals.requests).toFixed(1) + '% (' + totals.clientErrors + ' 4xx, ' + totals.serverErrors + ' 5xx)' : '-';
  $('t-predictions').textContent = String(totals.predictions);
  $('t-runs').textContent = finished + ' (' + (runs.promoted || 0) + ' promoted, ' + (runs.rejected || 0) + ' rejected, ' + totals.runFailures + ' failed, ' + totals.quarantinedFiles + ' quarantined)';
}

function render(data) {
  showTotals(data.totals);
  // One time axis for every chart: from the first point (at least 5 minutes back) to now.
  const t1 = Math.floor(data.generatedAt / data.bucketMs) * data.bucketMs + data.bucketMs;
  let t0 = t1 - 5 * 60000;
  for (const panel of data.panels) for (const s of panel.series) if (s.points.length) t0 = Math.min(t0, s.points[0][0]);
  const axis = { t0: Math.max(t0, data.from), t1, bucketMs: data.bucketMs };
  for (const id of PANELS) draw($('chart-' + id), data.panels.find((p) => p.id === id) || { id, kind: 'line', series: [] }, axis);
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

refresh();
setInterval(refresh, 5000);
`;

const panels = Object.entries(PANEL_TITLES)
  .map(
    ([id, title]) =>
      `<section data-chart="${id}"><h2>${title}</h2><svg id="chart-${id}" viewBox="0 0 640 190" role="img" aria-label="${title}"></svg></section>`,
  )
  .join('\n');

const PAGE = selfContainedPage({
  title: 'Local dashboard',
  style: STYLE,
  script: SCRIPT,
  formAction: "'none'",
  body: `
<h1>Local dashboard</h1><a href="/">Try a model</a>
<div id="totals">
<div>Requests<b id="t-requests">-</b></div>
<div>Error rate<b id="t-errors">-</b></div>
<div>Predictions<b id="t-predictions">-</b></div>
<div>Retraining runs<b id="t-runs">-</b></div>
</div>
<p id="status" aria-live="polite">Loading…</p>
<main>
${panels}
</main>`,
});

export const DASHBOARD_HTML = PAGE.html;

/** Only the inline script and style above may run; data comes from this server only. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = PAGE.headers;
