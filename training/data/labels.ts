import { DataError } from '../../core/data/errors';
import { isMissing } from '../../core/data/schema';
import type { RawTable } from '../../core/data/load';

export interface Labels {
  /** Class names, sorted (numerically when all are numbers). */
  readonly classes: string[];
  /** Class index of each row. */
  readonly y: Int32Array;
}

/** Reads the label column; refuses missing labels (naming the line) and single-class data. */
export function readLabels(table: RawTable, label: string): Labels {
  const c = table.columns.indexOf(label);
  const values = table.rows.map((r, i) => {
    const v = r[c].trim();
    if (isMissing(v)) {
      const where = table.origin[i];
      const file = table.sources[where.file].uri.replace(/^file:\/\//, '');
      throw new DataError(`${file}: line ${where.line}: the label "${label}" is missing`, {
        file,
        row: where.line,
        column: label,
      });
    }
    return v;
  });
  const distinct = [...new Set(values)];
  const numeric = distinct.every((v) => /^[+-]?\d+(\.\d+)?$/.test(v));
  const classes = numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
  if (classes.length < 2) {
    throw new DataError(`the label "${label}" has only one class (${classes[0]}); a classifier needs at least two`, {
      column: label,
    });
  }
  const index = new Map(classes.map((name, i) => [name, i]));
  return { classes, y: Int32Array.from(values, (v) => index.get(v) as number) };
}
