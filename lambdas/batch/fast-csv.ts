import type { BatchLayout } from '../../core/batch/layout';
import { headerLineIndex, splitCsvLine } from '../../core/batch/layout';
import type { RefusedRow } from '../../core/batch/report';
import type { InputTensor } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import type { InstanceValidator } from '../inference/request';

/**
 * The CSV hot path: cells checked column by column against the same rules the API's checks apply
 * (numeric: '' is missing, else a finite number; categorical: '' is missing, else a known
 * category after trimming) and written straight into the model's input tensors, the way
 * core/features' toModelInputs lays them out (numeric inputs [N,k] float32 in manifest order,
 * missing = NaN; categorical [N,1] strings, missing = the manifest's missing value). No per-row
 * objects. A row failing a check gets the API's own message (its validator, run on that row);
 * should the validator accept a row these checks refused, the caller falls back to the general
 * path for the chunk (`divergent`), so the API's rules always decide.
 */

/** Cell `col` of a line: from the parsed cells (a quoted line) or sliced at the comma positions. */
const cellAt = (text: string, cells: string[] | undefined, starts: Int32Array, col: number) =>
  cells ? cells[col] : text.slice(starts[col], starts[col + 1] - 1);

const COMMA = 0x2c;
const QUOTE = 0x22;

export interface FastRows {
  /** The lines scored, in input order. */
  readonly texts: string[];
  readonly refused: RefusedRow[];
  readonly rows: number;
  /** The model's inputs for rows [start, end) of `texts`. */
  tensors(start: number, end: number): Record<string, InputTensor>;
  readonly divergent: boolean;
}

/** Whether the fast path can score this model (text features take the general path). */
export const fastPathApplies = (layout: BatchLayout, features: readonly ManifestFeature[]) =>
  layout.format === 'csv' && features.every((f) => f.type !== 'text');

export function checkCsvRows(
  lines: readonly string[],
  options: {
    readonly layout: BatchLayout;
    readonly features: readonly ManifestFeature[];
    readonly validate: InstanceValidator;
    readonly firstChunk: boolean;
  },
): FastRows {
  const { layout, features, validate } = options;
  const groups = new Map<string, number[]>();
  features.forEach((f, j) => {
    if (f.type === 'numeric') groups.set(f.input, [...(groups.get(f.input) ?? []), j]);
  });
  const categorical = features.flatMap((f, j) => (f.type === 'categorical' ? [j] : []));
  const known = features.map((f) => new Set(f.categories ?? []));
  const columns = layout.featureColumns;
  const width = features.length;
  const ncols = layout.columns.length;
  // starts[c]: where cell c begins in the current line; starts[ncols]: the line's length + 1.
  const starts = new Int32Array(ncols + 1);
  const texts: string[] = [];
  const refused: RefusedRow[] = [];
  // Every feature's parsed value per scored row: numbers (NaN = missing) and category strings.
  const numbers: number[] = [];
  const categories: string[][] = categorical.map(() => []);
  let rows = 0;
  let divergent = false;
  const headerAt = options.firstChunk && layout.header ? headerLineIndex(lines) : -1;
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i];
    if (i === 0 && options.firstChunk && text.startsWith('\uFEFF')) text = text.slice(1);
    if (i === headerAt) continue;
    if (text.trim() === '') continue;
    rows++;
    // Unquoted lines (nearly all): the comma positions, and only the feature cells sliced out; a
    // line with a quote goes through the CSV parser.
    let cells: string[] | undefined;
    let count = 1;
    let quoted = false;
    for (let p = 0; p < text.length; p++) {
      const ch = text.charCodeAt(p);
      if (ch === COMMA) {
        if (count < ncols) starts[count] = p + 1;
        count++;
      } else if (ch === QUOTE) {
        quoted = true;
        break;
      }
    }
    if (quoted) {
      try {
        cells = splitCsvLine(text);
      } catch (error) {
        refused.push({ line: i + 1, reason: `not CSV: ${error instanceof Error ? error.message : String(error)}` });
        continue;
      }
      count = cells.length;
    }
    if (count !== ncols) {
      refused.push({
        line: i + 1,
        reason: `has ${count} values; the ${layout.header ? 'header has' : 'model takes'} ${ncols}`,
      });
      continue;
    }
    starts[ncols] = text.length + 1;
    let ok = true;
    const start = numbers.length;
    for (let j = 0; j < width && ok; j++) {
      const f = features[j];
      if (f.type !== 'numeric') continue;
      // Number() ignores surrounding whitespace and reads a blank cell as 0: only a 0 needs the
      // blank check ('' after trimming is missing, NaN).
      const raw = cellAt(text, cells, starts, columns[j]);
      let v = Number(raw);
      if (v === 0 && raw.trim() === '') v = Number.NaN;
      else if (!Number.isFinite(v)) ok = false;
      numbers.push(v);
    }
    let pushed = 0;
    for (let c = 0; c < categorical.length && ok; c++) {
      const j = categorical[c];
      const t = cellAt(text, cells, starts, columns[j]).trim();
      if (t === '') categories[c].push(String(features[j].missing.value));
      else if (known[j].has(t)) categories[c].push(t);
      else ok = false;
      if (ok) pushed++;
    }
    if (!ok) {
      numbers.length = start;
      for (let c = 0; c < pushed; c++) categories[c].pop();
      const value: Record<string, unknown> = {};
      for (let j = 0; j < width; j++) {
        const raw = cellAt(text, cells, starts, columns[j]);
        const t = raw.trim();
        value[features[j].name] =
          t === '' ? null : features[j].type === 'numeric' && !Number.isNaN(Number(t)) ? Number(t) : raw;
      }
      const checked = validate({ form: 'single', instances: [{ value, path: '' }] });
      if (checked.ok) divergent = true;
      else refused.push({ line: i + 1, reason: checked.error.message });
      continue;
    }
    texts.push(text);
  }
  const numericCount = features.filter((f) => f.type === 'numeric').length;
  const numericIndex = new Map<number, number>();
  features.forEach((f, j) => {
    if (f.type === 'numeric') numericIndex.set(j, numericIndex.size);
  });
  return {
    texts,
    refused,
    rows,
    divergent,
    tensors(from, to) {
      const n = to - from;
      const inputs: Record<string, InputTensor> = {};
      for (const [input, members] of groups) {
        const k = members.length;
        const data = new Float32Array(n * k);
        for (let r = 0; r < n; r++) {
          const base = (from + r) * numericCount;
          for (let m = 0; m < k; m++) data[r * k + m] = numbers[base + (numericIndex.get(members[m]) as number)];
        }
        inputs[input] = { dtype: 'float32', data, dims: [n, k] };
      }
      categorical.forEach((j, c) => {
        inputs[features[j].input] = { dtype: 'string', data: categories[c].slice(from, to), dims: [n, 1] };
      });
      return inputs;
    },
  };
}
