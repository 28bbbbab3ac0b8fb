import { selfContainedPage } from '../shared/html-page';

/**
 * GET / : a small self-contained page to try the models. It reads GET /models, builds a form
 * from the chosen model's schema (number inputs, selects for categories, a textarea for text),
 * posts {"features": {...}} to /models/{name}/predict and shows the answer. Inline script and
 * style only (no external assets, no CDN); the Content-Security-Policy allows exactly those.
 * All data is inserted with textContent, never as HTML. Switching model clears the previous
 * answer (and drops one still in flight); classes show the spec's display names when it has them.
 */

const STYLE = `
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem;display:inline;margin-right:1rem}form{margin-top:1rem}label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input,select,textarea{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
textarea{min-height:6rem}button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;cursor:pointer}
.hint{color:#667;font-weight:400;font-size:.85rem}.error{color:#a11}
table{border-collapse:collapse;margin-top:.5rem}td{padding:.2rem .6rem}meter{width:12rem}
#result{margin-top:1.5rem}
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, props, children) => {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children || []) node.append(child);
  return node;
};
let models = [];
// Bumped on every model switch and prediction: an answer for an older one is not shown.
let shown = 0;

function show(nodes) { $('result').replaceChildren(...nodes); }
// "machine failure (1)" when the spec names the class, else the label itself.
function className(model, label) {
  const name = model && model.classNames && model.classNames[label];
  return name ? name + ' (' + label + ')' : label;
}

function buildForm() {
  const model = models.find((m) => m.name === $('model').value);
  const fields = $('fields');
  shown += 1;
  show([]);
  fields.replaceChildren();
  if (!model) return;
  model.features.forEach((f, i) => {
    const id = 'f' + i;
    let input;
    if (f.type === 'categorical') {
      input = el('select', { id }, [el('option', { value: '', textContent: '(missing)' })]);
      for (const c of f.categories || []) input.append(el('option', { value: c, textContent: c }));
    } else if (f.type === 'text') {
      input = el('textarea', { id, placeholder: 'text' });
    } else {
      input = el('input', { id, type: 'number', step: 'any', placeholder: f.range ? f.range.min + ' to ' + f.range.max : 'number' });
    }
    input.dataset.feature = f.name;
    input.dataset.type = f.type;
    const hint = el('span', { className: 'hint', textContent: ' ' + f.type + (f.type === 'text' ? '' : ', empty = missing') });
    fields.append(el('label', { htmlFor: id }, [f.name, hint]), input);
  });
}

async function predict(event) {
  event.preventDefault();
  const name = $('model').value;
  const model = models.find((m) => m.name === name);
  const ticket = ++shown;
  const features = {};
  for (const input of $('fields').querySelectorAll('[data-feature]')) {
    const v = input.value;
    features[input.dataset.feature] = input.dataset.type === 'numeric' ? (v.trim() === '' ? null : Number(v)) : input.dataset.type === 'text' ? v : (v === '' ? null : v);
  }
  show([el('p', { textContent: 'Predicting…' })]);
  try {
    const res = await fetch('models/' + encodeURIComponent(name) + '/predict', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features }),
    });
    const body = await res.json();
    if (ticket !== shown) return;
    if (!res.ok) {
      const e = body.error || {};
      show([el('p', { className: 'error', textContent: res.status + ' ' + (e.code || '') + ': ' + (e.message || '') + (e.expected ? ' (expected ' + e.expected + ')' : '') })]);
      return;
    }
    const p = body.predictions[0];
    const rows = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]).map(([c, v]) =>
      el('tr', {}, [el('td', { textContent: className(model, c) }), el('td', { textContent: v.toFixed(4) }),
        el('td', {}, [el('meter', { min: 0, max: 1, value: v })])]));
    show([el('h2', { textContent: className(model, p.label) }), el('p', { className: 'hint', textContent: body.model + ' version ' + body.version }), el('table', {}, rows)]);
  } catch (err) {
    if (ticket === shown) show([el('p', { className: 'error', textContent: String(err) })]);
  }
}

async function init() {
  try {
    const res = await fetch('models');
    const body = await res.json();
    models = (body.models || []).filter((m) => Array.isArray(m.features));
    if (models.length === 0) { show([el('p', { textContent: 'No model has a champion yet.' })]); return; }
    for (const m of models) $('model').append(el('option', { value: m.name, textContent: m.name + ' (version ' + m.version + ')' }));
    if (body.defaultModel && models.some((m) => m.name === body.defaultModel)) $('model').value = body.defaultModel;
    buildForm();
  } catch (err) {
    show([el('p', { className: 'error', textContent: 'Cannot list models: ' + String(err) })]);
  }
}

$('model').addEventListener('change', buildForm);
$('form').addEventListener('submit', predict);
init();
`;

/** For an href attribute: the URL comes from configuration, but is escaped all the same. */
const attribute = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface TryItPageOptions {
  /** Where the page links to the platform's dashboard. @default - no dashboard link */
  readonly dashboardUrl?: string;
}

/** The page and its headers; the link is in the markup, so the CSP (hashes of script and style) is the same for every URL. */
export function tryItPage(options: TryItPageOptions = {}): {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
} {
  const link = options.dashboardUrl ? ` <a id="dashboard" href="${attribute(options.dashboardUrl)}">Dashboard</a>` : '';
  return selfContainedPage({
    title: 'Model inference',
    style: STYLE,
    script: SCRIPT,
    formAction: "'self'",
    body: `
<h1>Try a model</h1>${link}
<form id="form">
<label for="model">Model</label>
<select id="model"></select>
<div id="fields"></div>
<button type="submit">Predict</button>
</form>
<div id="result" aria-live="polite"></div>
<p class="hint">Batches: POST /models/{name}/predict with {"instances": [...]} (one object or array per row), or, fastest,
{"columns": {"&lt;feature&gt;": [values in row order], ...}}, answered with "labels" and "probabilities": {"&lt;class&gt;": [...]}
(element i is row i).</p>`,
  });
}
