import {
  type BaselineRows,
  computeFeatureBaselines,
  type FeatureBaselines,
  type HoldoutPredictions,
} from '../core/monitoring/baseline';
import { type AnyTable, asTyped, cellMissing, cellText, type TypedTable } from '../core/data/columns';
import type { Schema } from '../core/data/schema';

/**
 * The training side of the baselines (core/monitoring/baseline.ts): a file's cells as the raw
 * values the model receives (a missing token, "?", "NA", ..., is no value, as the encoder reads
 * it), and a trainer's probabilities as predicted classes.
 */

/**
 * `rows` of the table (indices), read by feature name: a numeric feature's cell as its number
 * (what Number() of its text gives), any other as its trimmed text (the baselines trim and
 * tokenise it, so the blanks around it change nothing), a missing one as null.
 */
function tableRows(table: TypedTable, schema: Schema, rows: ArrayLike<number>): BaselineRows {
  const readers = new Map(
    schema.features.map((f) => {
      const c = table.columns.indexOf(f.name);
      if (c < 0)
        throw new Error(`feature "${f.name}" is not a column of the data (columns: ${table.columns.join(', ')})`);
      const cells = table.data[c];
      const read =
        f.type === 'numeric' && cells.kind === 'numeric'
          ? (r: number) => (Number.isNaN(cells.values[r]) ? null : cells.values[r])
          : (r: number) => (cellMissing(cells, r) ? null : cellText(cells, r));
      return [f.name, read];
    }),
  );
  return {
    count: rows.length,
    value(feature, row) {
      const read = readers.get(feature);
      if (read === undefined) throw new Error(`feature "${feature}" is not in the schema`);
      return read(rows[row]);
    },
  };
}

/** The baselines of the schema's features over the train part of the split. */
export function trainBaselines(table: AnyTable, schema: Schema, train: ArrayLike<number>): FeatureBaselines {
  return computeFeatureBaselines(schema.features, tableRows(asTyped(table), schema, train));
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
