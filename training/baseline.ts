import {
  type BaselineRows,
  computeFeatureBaselines,
  type FeatureBaselines,
  type HoldoutPredictions,
} from '../core/monitoring/baseline';
import type { RawTable } from '../core/data/load';
import { isMissing, type Schema } from '../core/data/schema';

/**
 * The training side of the baselines (core/monitoring/baseline.ts): a file's cells as the raw
 * values the model receives (a missing token, "?", "NA", ..., is no value, as the encoder reads
 * it), and a trainer's probabilities as predicted classes.
 */

/** `rows` of the table (indices), read by feature name. */
function tableRows(table: RawTable, rows: ArrayLike<number>): BaselineRows {
  const column = new Map(table.columns.map((name, c) => [name, c]));
  return {
    count: rows.length,
    value(feature, row) {
      const c = column.get(feature);
      if (c === undefined)
        throw new Error(`feature "${feature}" is not a column of the data (columns: ${table.columns.join(', ')})`);
      const cell = table.rows[rows[row]][c];
      return isMissing(cell) ? null : cell;
    },
  };
}

/** The baselines of the schema's features over the train part of the split. */
export function trainBaselines(table: RawTable, schema: Schema, train: ArrayLike<number>): FeatureBaselines {
  return computeFeatureBaselines(schema.features, tableRows(table, train));
}

/**
 * Each row's predicted class: the argmax of its probabilities (row-major [rows, classes]), the
 * first on a tie, as the exported graph's ArgMax picks the label.
 */
export function predictedClasses(probabilities: ArrayLike<number>, classes: readonly string[]): HoldoutPredictions {
  const k = classes.length;
  const predicted = new Int32Array(Math.floor(probabilities.length / k));
  for (let r = 0; r < predicted.length; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probabilities[r * k + j] > probabilities[r * k + best]) best = j;
    predicted[r] = best;
  }
  return { classes, predicted };
}
