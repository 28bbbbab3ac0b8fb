import { cellWritten, type Column, type NumericColumn } from './columns';
import { looksNumeric } from './load';
import { isMissing } from './schema';

/**
 * Typing cells as they are read (core/data/load-columns.ts, columnarFromRows): a column stays
 * numeric while its cells read as numbers, and most number texts are recognised as their own
 * shortest form without making String(x) for each.
 */

/**
 * Whether `text` is exactly `String(Number(text))`, decided without making that string: a plain
 * decimal (optional `-`, no leading zero, no trailing fractional zero, no exponent) of at most 15
 * digits, which a double holds exactly enough for its shortest form to be these digits, between
 * 1e-6 and 1e21 where that form has no exponent. False means "not sure", never "different".
 */
export function isShortestNumberText(text: string): boolean {
  const n = text.length;
  if (n === 0 || n > 17) return false;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const start = i;
  if (i === n) return false;
  let c = text.charCodeAt(i);
  let digits = 0;
  const zero = c === 48;
  if (zero) {
    i++;
  } else {
    while (i < n && (c = text.charCodeAt(i)) >= 48 && c <= 57) i++;
    digits = i - start;
    if (digits === 0) return false;
  }
  if (i === n) return (!zero || start === 0) && digits <= 15; // an integer; "-0" is written "0"
  if (text.charCodeAt(i) !== 46 || i === n - 1 || text.charCodeAt(n - 1) === 48) return false;
  const fraction = i + 1;
  for (i = fraction; i < n; i++) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  if (zero) {
    // 0.000001 is written as such, 0.0000001 as 1e-7.
    let leading = 0;
    while (text.charCodeAt(fraction + leading) === 48) leading++;
    if (leading > 5) return false;
  }
  return digits + (n - fraction) <= 15;
}

/** A plain decimal with a trailing fractional zero (`300.10`): a number, never in its shortest form. */
const TRAILING_ZERO = /^-?\d+\.\d*0$/;

/**
 * 1: `text` is exactly `String(Number(text))`; 2: it reads as a number, with no blanks around it,
 * but is not that text (`300.10`); 0: not decided here (anything else, missing tokens included).
 */
export function numberTextKind(text: string): 0 | 1 | 2 {
  if (isShortestNumberText(text)) return 1;
  return TRAILING_ZERO.test(text) ? 2 : 0;
}

/** Builds one column cell by cell: numeric while every cell reads as a number, a dictionary from the first that does not. */
export class ColumnBuilder {
  private values: Float64Array | undefined;
  private written: Map<number, string> | undefined = new Map();
  private zeros: Uint8Array | undefined;
  private padded: Map<number, string> | undefined = new Map();
  private codes: Int32Array | undefined;
  private index: Map<string, number> | undefined;
  private dictionary: string[] = [];
  private missing: boolean[] = [];
  /** Each dictionary entry's hashed text. */
  private canonical: string[] = [];
  private size = 0;

  constructor(capacity = 1024) {
    this.values = new Float64Array(Math.max(16, capacity));
  }

  get length(): number {
    return this.size;
  }

  /** Adds a cell; returns its text as the row-content hash reads it (trimmed, '' when missing). */
  push(v: string): string {
    if (this.values) {
      const kind = numberTextKind(v);
      if (kind !== 0) {
        if (this.size === this.values.length) this.grow();
        if (kind === 2) this.keepZeros(v);
        (this.values as Float64Array)[this.size++] = Number(v);
        return v;
      }
      const text = this.pushNumber(v);
      if (text !== undefined) return text;
      this.toDictionary();
    }
    return this.canonical[this.pushCode(v)];
  }

  build(): Column {
    if (this.values) {
      return {
        kind: 'numeric',
        values: trimmed(this.values, this.size),
        written: this.written as Map<number, string>,
        ...(this.zeros ? { zeros: trimmed(this.zeros, this.size) } : {}),
        padded: this.padded as Map<number, string>,
      };
    }
    const codes = this.codes as Int32Array;
    return {
      kind: 'dictionary',
      codes: trimmed(codes, this.size),
      dictionary: this.dictionary,
      missing: this.missing,
    };
  }

  /**
   * A cell like `300.10`: String(x) followed by zeros (and a '.'), kept as their count in one
   * byte (NumericColumn.zeros) rather than as a string in `written`, when String(x) is the rest.
   */
  private keepZeros(v: string): void {
    let end = v.length;
    while (v.charCodeAt(end - 1) === 48) end--;
    const zeros = v.length - end;
    const dot = v.charCodeAt(end - 1) === 46;
    if (dot) end--;
    if (zeros > 127 || !isShortestNumberText(v.slice(0, end))) {
      (this.written as Map<number, string>).set(this.size, v);
      return;
    }
    this.zeros ??= new Uint8Array((this.values as Float64Array).length);
    this.zeros[this.size] = zeros | (dot ? 128 : 0);
  }

  private grow(): void {
    this.values = grow(this.values as Float64Array);
    if (this.zeros) this.zeros = grow(this.zeros);
  }

  /** The slow path of a numeric cell: its hashed text, or undefined when the cell is not a number. */
  private pushNumber(v: string): string | undefined {
    const r = this.size;
    let x: number;
    let text = '';
    if (isMissing(v)) {
      x = Number.NaN;
      if (v !== '') (this.written as Map<number, string>).set(r, v);
    } else {
      if (!looksNumeric(v)) return undefined;
      text = v.trim();
      x = Number(text);
      if (String(x) !== text) (this.written as Map<number, string>).set(r, text);
      if (text !== v) (this.padded as Map<number, string>).set(r, v);
    }
    if (r === (this.values as Float64Array).length) this.grow();
    (this.values as Float64Array)[this.size++] = x;
    return text;
  }

  private toDictionary(): void {
    const column: NumericColumn = {
      kind: 'numeric',
      values: this.values as Float64Array,
      written: this.written as Map<number, string>,
      ...(this.zeros ? { zeros: this.zeros } : {}),
      padded: this.padded as Map<number, string>,
    };
    const rows = this.size;
    this.index = new Map();
    this.codes = new Int32Array((this.values as Float64Array).length);
    this.values = undefined;
    this.written = undefined;
    this.zeros = undefined;
    this.padded = undefined;
    this.size = 0;
    for (let r = 0; r < rows; r++) this.pushCode(cellWritten(column, r));
  }

  private pushCode(v: string): number {
    const index = this.index as Map<string, number>;
    // A few categories (the common case) are found faster by comparing than by hashing.
    let code: number | undefined;
    const dictionary = this.dictionary;
    if (dictionary.length <= 8) {
      for (let k = 0; k < dictionary.length; k++)
        if (dictionary[k] === v) {
          code = k;
          break;
        }
    } else {
      code = index.get(v);
    }
    if (code === undefined) {
      code = this.dictionary.length;
      index.set(v, code);
      this.dictionary.push(v);
      this.missing.push(isMissing(v));
      this.canonical.push(isMissing(v) ? '' : v.trim());
    }
    if (this.size === (this.codes as Int32Array).length) this.codes = grow(this.codes as Int32Array);
    (this.codes as Int32Array)[this.size++] = code;
    return code;
  }
}

/** The first `length` elements: a view when little is left over (no copy), else a copy. */
export function trimmed<T extends Int32Array | Float64Array | Uint8Array>(array: T, length: number): T {
  if (array.length === length) return array;
  return (array.length - length <= Math.max(64, length / 64) ? array.subarray(0, length) : array.slice(0, length)) as T;
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(array: T): T {
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}
