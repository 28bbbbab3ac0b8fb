import { DataError } from '../../core/data/errors';
import { ColumnBuilder } from '../../core/data/column-builder';
import { type AnyTable, type Column, isTyped, rowFile, rowOrigin, textCodes } from '../../core/data/columns';

export interface Labels {
  /** Class names, sorted (numerically when all are numbers). */
  readonly classes: string[];
  /** Class index of each row. */
  readonly y: Int32Array;
}

/** Reads the label column; refuses missing labels (naming the line) and single-class data. */
export function readLabels(table: AnyTable, label: string): Labels {
  const { texts, codes } = textCodes(labelColumn(table, label));
  const missing = texts.indexOf('');
  const first = missing < 0 ? -1 : codes.indexOf(missing);
  if (first >= 0) {
    const { file, line } = whereIs(table, first);
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

/** The label column typed; from string rows, that column alone (the other columns are not needed). */
function labelColumn(table: AnyTable, label: string): Column {
  const c = table.columns.indexOf(label);
  if (isTyped(table)) return table.data[c];
  const builder = new ColumnBuilder(table.rows.length);
  for (const row of table.rows) builder.push(row[c]);
  return builder.build();
}

/** The file path and line a row starts on. */
function whereIs(table: AnyTable, row: number): { file: string; line: number } {
  if (isTyped(table)) return { file: rowFile(table, row), line: rowOrigin(table, row).line };
  const where = table.origin[row];
  return { file: table.sources[where.file].uri.replace(/^file:\/\//, ''), line: where.line };
}
