import { closeSync, openSync, writeSync } from 'node:fs';
import { Rng } from '../training/rng';

/**
 * A deterministic synthetic machine-failure table, shaped like the predictive-maintenance data
 * the pipeline trains on (ai4i2020): a header row, a categorical `type` (L / M / H, about
 * 60 / 30 / 10%), five numeric columns on different scales and a binary label `failure`
 * (about 18% ones). The label depends on the features through a logistic model with a
 * nonlinear term (power far from its nominal value, either way, raises the risk) and a Bernoulli
 * draw, so trees and linear models both learn something and neither scores perfectly.
 *
 *   f1  air temperature [K]      ~ N(300, 2)                      2 decimals
 *   f2  process temperature [K]  f1 + 10 + N(0, 1)                2 decimals
 *   f3  rotational speed [rpm]   ~ N(1540, 180), >= 1000          2 decimals
 *   f4  torque [Nm]              40 - 0.04 (f3 - 1540) + N(0, 8)  3 decimals, >= 3
 *   f5  vibration [mm/s]         exp(N(-1, 0.4))                  4 decimals
 */

export const GENERATED_COLUMNS = ['type', 'f1', 'f2', 'f3', 'f4', 'f5', 'failure'] as const;
/** Feature columns (everything but the label). */
export const GENERATED_FEATURES = GENERATED_COLUMNS.length - 1;
export const GENERATED_LABEL = 'failure';

/** Rows written per write(2) call: bounds the string the writer holds at once. */
const CHUNK_ROWS = 8192;

/** Standard normal draws (Box-Muller, both values used) from the seeded generator. */
class Normal {
  private spare: number | undefined;

  constructor(private readonly rng: Rng) {}

  next(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u = 1 - this.rng.next(); // (0, 1]: log(u) is finite
    const v = this.rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Writes rows one after another; the same seed always gives the same rows. */
class RowSource {
  private readonly rng: Rng;
  private readonly normal: Normal;

  constructor(seed: number) {
    this.rng = new Rng(seed);
    this.normal = new Normal(this.rng);
  }

  /** One CSV line (no line end) and its label. */
  next(): { line: string; label: 0 | 1 } {
    const { rng, normal } = this;
    const u = rng.next();
    const type = u < 0.6 ? 'L' : u < 0.9 ? 'M' : 'H';
    const air = 300 + 2 * normal.next();
    const process = air + 10 + normal.next();
    const rpm = Math.max(1000, 1540 + 180 * normal.next());
    const torque = Math.max(3, 40 - 0.04 * (rpm - 1540) + 8 * normal.next());
    const vibration = Math.exp(-1 + 0.4 * normal.next());
    // Power [kW] = torque * angular speed; failures cluster where it is far from nominal (~6.4 kW).
    const power = (torque * rpm * 2 * Math.PI) / 60 / 1000;
    const logit =
      -2.85 +
      0.9 * ((power - 6.4) / 1.6) ** 2 +
      (1.0 * (vibration - 0.4)) / 0.16 -
      0.35 * (process - air - 10) +
      (type === 'L' ? 0.35 : type === 'H' ? -0.5 : 0);
    const label: 0 | 1 = rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const line = `${type},${air.toFixed(2)},${process.toFixed(2)},${rpm.toFixed(2)},${torque.toFixed(3)},${vibration.toFixed(4)},${label}`;
    return { line, label };
  }
}

export interface GeneratedFile {
  readonly rows: number;
  readonly bytes: number;
  /** Rows with failure = 1. */
  readonly positives: number;
}

/** The whole table as one string: for small tables (tests, examples); use writeGeneratedCsv for big ones. */
export function generateCsv(rows: number, seed: number): string {
  const source = new RowSource(seed);
  const lines = [GENERATED_COLUMNS.join(',')];
  for (let i = 0; i < rows; i++) lines.push(source.next().line);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the table to `path` in chunks of CHUNK_ROWS rows, never holding more than one chunk, so
 * millions of rows cost a few MB of memory. Byte-identical to generateCsv(rows, seed).
 */
export function writeGeneratedCsv(path: string, rows: number, seed: number): GeneratedFile {
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a whole number >= 1, got ${rows}`);
  const source = new RowSource(seed);
  const fd = openSync(path, 'w');
  let bytes = 0;
  let positives = 0;
  try {
    const write = (text: string) => {
      const buffer = Buffer.from(text, 'utf8');
      let offset = 0;
      while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
      bytes += buffer.length;
    };
    write(`${GENERATED_COLUMNS.join(',')}\n`);
    for (let done = 0; done < rows;) {
      const n = Math.min(CHUNK_ROWS, rows - done);
      const lines = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const row = source.next();
        lines[i] = row.line;
        positives += row.label;
      }
      write(`${lines.join('\n')}\n`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return { rows, bytes, positives };
}
