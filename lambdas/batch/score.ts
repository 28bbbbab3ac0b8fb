import type { FeatureRow } from '../inference/backends/types';
import { toPredictions } from '../inference/backends/types';
import type { InstanceValidator, RawInstance } from '../inference/request';
import { type BatchLayout, headerLineIndex, splitCsvLine } from '../../core/batch/layout';
import type { RefusedRow } from '../../core/batch/report';
import type { InputTensor } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import { checkCsvRows, fastPathApplies } from './fast-csv';

/**
 * Scores the lines of one chunk: each row is checked with the API's own per-feature checks
 * (instanceValidator, generated from the manifest), refused rows are listed with their line and
 * reason, the others are scored in batches through the predictor (onnxruntime) and written as
 * the input line plus the label and one probability per class, in input order.
 */

export interface ChunkScore {
  /** Scored rows as output lines ('\n'-terminated), in input order; the CSV header first for chunk 0. */
  readonly output: string;
  /** Lines the chunk owns (header and blank lines included). */
  readonly lines: number;
  /** Data rows: scored + refused (header and blank lines are not rows). */
  readonly rows: number;
  readonly scored: number;
  readonly refused: readonly RefusedRow[];
}

export interface ScoreChunkOptions {
  readonly layout: BatchLayout;
  readonly features: readonly ManifestFeature[];
  readonly classes: readonly string[];
  readonly validate: InstanceValidator;
  /** Class probabilities per row (the model's predictor). */
  readonly predict: (rows: readonly FeatureRow[]) => Promise<number[][]>;
  /** Whether these lines start the file (its header, if any, is line 1). */
  readonly firstChunk: boolean;
  /**
   * Class probabilities ([N, classes], row-major) straight from model input tensors: the CSV hot
   * path (fast-csv.ts) uses it when given. @default - every row through `predict`
   */
  readonly predictInputs?: (inputs: Record<string, InputTensor>, rows: number) => Promise<ArrayLike<number>>;
  /** Rows per onnxruntime call. @default 10000 */
  readonly batchRows?: number;
}

const BOM = '\uFEFF';

/** The column names appended to a CSV header. */
function predictionColumns(classes: readonly string[]): string[] {
  return ['prediction', ...classes.map((c) => `probability_${c}`)];
}

const csvCell = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/** A CSV cell as the JSON value the API's checks expect: '' is missing (null), numbers are numbers. */
function cellValue(feature: ManifestFeature, cell: string | undefined): unknown {
  if (cell === undefined) return undefined;
  const text = cell.trim();
  if (text === '') return null;
  if (feature.type !== 'numeric') return cell;
  const number = Number(text);
  return Number.isNaN(number) ? cell : number;
}

interface Candidate {
  readonly line: number;
  readonly text: string;
  readonly instance: RawInstance;
  /** JSONL: the parsed object, written back with the prediction added. */
  readonly object?: Record<string, unknown>;
}

function toCandidate(
  text: string,
  line: number,
  layout: BatchLayout,
  features: readonly ManifestFeature[],
): Candidate | RefusedRow {
  const path = '';
  if (layout.format === 'jsonl') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { line, reason: 'not valid JSON' };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return { line, reason: 'not a JSON object' };
    const object = parsed as Record<string, unknown>;
    // Only the features are checked: other keys (ids, the true label) pass through to the result.
    const value: Record<string, unknown> = {};
    for (const f of features) if (Object.hasOwn(object, f.name)) value[f.name] = object[f.name];
    return { line, text, object, instance: { value, path } };
  }
  let cells: string[];
  try {
    cells = splitCsvLine(text);
  } catch (error) {
    return { line, reason: `not CSV: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (cells.length !== layout.columns.length)
    return {
      line,
      reason: `has ${cells.length} values; the ${layout.header ? 'header has' : 'model takes'} ${layout.columns.length}`,
    };
  const value: Record<string, unknown> = {};
  for (let j = 0; j < features.length; j++)
    value[features[j].name] = cellValue(features[j], cells[layout.featureColumns[j]]);
  return { line, text, instance: { value, path } };
}

/** Probabilities are reported to 6 decimals, the label is the first class with the highest one (as toPredictions). */
const round = (p: number) => Math.round(p * 1e6) / 1e6;

const ZEROS = ['', '0', '00', '000', '0000', '00000'];

/**
 * `String(round(p))` without the double -> shortest-decimal conversion (the costly part of writing
 * a row): the 6-decimal value is an integer count of millionths, printed as digits with the
 * trailing zeros dropped, which is exactly the shortest decimal that reads back as round(p).
 * Anything outside [0, 1] (never from a softmax, but possible from a model) takes String().
 */
export function formatProbability(p: number): string {
  let n = Math.round(p * 1e6);
  if (!(n > 0 && n < 1e6)) return String(round(p));
  let digits = 6;
  while (n % 10 === 0) {
    n /= 10;
    digits--;
  }
  const s = String(n);
  return `0.${ZEROS[digits - s.length]}${s}`;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;
const DOT = 0x2e;

/** A growing byte buffer for one chunk's output lines. */
class OutputBytes {
  private buffer: Buffer;
  private length = 0;

  constructor(initial: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, initial));
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  text(text: string): void {
    this.room(text.length * 3);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  bytes(bytes: Buffer): void {
    this.room(bytes.length);
    bytes.copy(this.buffer, this.length);
    this.length += bytes.length;
  }

  byte(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  /** ',' + formatProbability(p), written as bytes. */
  probability(p: number): void {
    let n = Math.round(p * 1e6);
    if (!(n > 0 && n < 1e6)) {
      this.text(`,${formatProbability(p)}`);
      return;
    }
    this.room(10);
    const b = this.buffer;
    let at = this.length;
    b[at++] = COMMA;
    b[at++] = DIGIT_0;
    b[at++] = DOT;
    // Six decimals, trailing zeros dropped.
    let digits = 6;
    while (n % 10 === 0) {
      n /= 10;
      digits--;
    }
    for (let i = digits - 1; i >= 0; i--) {
      b[at + i] = DIGIT_0 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.length = at + digits;
  }

  toString(): string {
    return this.buffer.toString('utf8', 0, this.length);
  }
}

async function scoreCsvFast(
  lines: readonly string[],
  options: ScoreChunkOptions & { readonly predictInputs: NonNullable<ScoreChunkOptions['predictInputs']> },
): Promise<ChunkScore | undefined> {
  const { layout, classes } = options;
  const checked = checkCsvRows(lines, options);
  if (checked.divergent) return undefined;
  const batchRows = options.batchRows ?? 10000;
  const k = classes.length;
  const labels = classes.map(csvCell);
  const out = new OutputBytes(lines.length * 96);
  if (options.firstChunk) {
    const head = layout.header
      ? lines[headerLineIndex(lines)].replace(/^\uFEFF/, '')
      : layout.columns.map(csvCell).join(',');
    out.text(`${head},${predictionColumns(classes).map(csvCell).join(',')}\n`);
  }
  // The output is written as bytes into one buffer: no per-row strings (the input line is copied
  // as it was read, the probabilities are written digit by digit).
  const labelBytes = labels.map((l) => Buffer.from(`,${l}`));
  for (let start = 0; start < checked.texts.length; start += batchRows) {
    const end = Math.min(checked.texts.length, start + batchRows);
    const probabilities = await options.predictInputs(checked.tensors(start, end), end - start);
    for (let r = 0; r < end - start; r++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (probabilities[r * k + c] > probabilities[r * k + best]) best = c;
      out.text(checked.texts[start + r]);
      out.bytes(labelBytes[best]);
      for (let c = 0; c < k; c++) out.probability(probabilities[r * k + c]);
      out.byte(NEWLINE);
    }
  }
  return {
    output: out.toString(),
    lines: lines.length,
    rows: checked.rows,
    scored: checked.texts.length,
    refused: checked.refused,
  };
}

export async function scoreChunk(lines: readonly string[], options: ScoreChunkOptions): Promise<ChunkScore> {
  const { layout, features, classes, validate } = options;
  if (options.predictInputs && fastPathApplies(layout, features)) {
    const fast = await scoreCsvFast(lines, { ...options, predictInputs: options.predictInputs });
    if (fast) return fast;
  }
  const batchRows = options.batchRows ?? 10000;
  const refused: RefusedRow[] = [];
  const candidates: Candidate[] = [];
  let header: string | undefined;
  let rows = 0;
  const headerAt = options.firstChunk && layout.header ? headerLineIndex(lines) : -1;
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i];
    if (i === 0 && options.firstChunk && text.startsWith(BOM)) text = text.slice(1);
    if (i === headerAt) {
      header = text;
      continue;
    }
    if (text.trim() === '') continue;
    rows++;
    const parsed = toCandidate(text, i + 1, layout, features);
    if ('reason' in parsed) refused.push(parsed);
    else candidates.push(parsed);
  }
  // One validator call for the whole chunk (the common case: every row is good); row by row only
  // when it refuses, to name every bad row and keep the good ones.
  let valid: { candidate: Candidate; row: FeatureRow }[];
  const all = validate({ form: 'batch', instances: candidates.map((c) => c.instance) });
  if (all.ok) valid = candidates.map((candidate, i) => ({ candidate, row: all.value[i] }));
  else {
    valid = [];
    for (const candidate of candidates) {
      const one = validate({ form: 'single', instances: [candidate.instance] });
      if (one.ok) valid.push({ candidate, row: one.value[0] });
      else refused.push({ line: candidate.line, reason: one.error.message });
    }
    refused.sort((a, b) => a.line - b.line);
  }
  const out: string[] = [];
  if (options.firstChunk && layout.format === 'csv') {
    const head = header ?? layout.columns.map(csvCell).join(',');
    out.push(`${head},${predictionColumns(classes).map(csvCell).join(',')}\n`);
  }
  for (let start = 0; start < valid.length; start += batchRows) {
    const slice = valid.slice(start, start + batchRows);
    const predictions = toPredictions(classes, await options.predict(slice.map((v) => v.row)));
    for (let i = 0; i < slice.length; i++) {
      const { candidate } = slice[i];
      const p = predictions[i];
      if (layout.format === 'csv') {
        let line = `${candidate.text},${csvCell(p.label)}`;
        for (const c of classes) line += `,${p.probabilities[c]}`;
        out.push(`${line}\n`);
      } else {
        out.push(`${JSON.stringify({ ...candidate.object, prediction: p.label, probabilities: p.probabilities })}\n`);
      }
    }
  }
  return {
    output: out.join(''),
    lines: lines.length,
    rows,
    scored: valid.length,
    refused,
  };
}
