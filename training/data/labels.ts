import { DataError } from '../../core/data/errors';
import { type AnyTable, asTyped, rowFile, rowOrigin, textCodes } from '../../core/data/columns';

export interface Labels {
  /** Class names, sorted (numerically when all are numbers). */
  readonly classes: string[];
  /** Class index of each row. */
  readonly y: Int32Array;
}

/** Reads the label column; refuses missing labels (naming the line) and single-class data. */
export function readLabels(table: AnyTable, label: string): Labels {
  const typed = asTyped(table);
  const { texts, codes } = textCodes(typed.data[typed.columns.indexOf(label)]);
  const missing = texts.indexOf('');
  const first = missing < 0 ? -1 : codes.indexOf(missing);
  if (first >= 0) {
    const file = rowFile(typed, first);
    const { line } = rowOrigin(typed, first);
    throw new DataError(`${file}: line ${line}: the label "${label}" is missing`, { file, row: line, column: label });
  }
  const distinct = [...texts];
  const numeric = distinct.every((v) => /^[+-]?\d+(\.\d+)?$/.test(v));
  const classes = numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
  if (classes.length < 2) {
    throw new DataError(`the label "${label}" has only one class (${classes[0]}); a classifier needs at least two`, {
      column: label,
    });
  }
  const index = new Map(classes.map((name, i) => [name, i]));
  const classOf = Int32Array.from(texts, (v) => index.get(v) as number);
  return { classes, y: Int32Array.from(codes, (code) => classOf[code]) };
}
