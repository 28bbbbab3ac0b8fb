/**
 * Stratified k-fold assignment by row content. Like the split (training/split.ts), a row's fold
 * follows from the rows' content digests only, never from file order, so every algorithm of a
 * run (and every pipeline Map item training one algorithm) sees exactly the same folds, and the
 * scikit-learn reference can be handed them as row indices.
 */

/**
 * Deals `rows` (table indices, e.g. train + validation) into `k` folds: class by class, the
 * class's distinct digests sorted ascending and dealt round-robin, the deal continuing across
 * classes so fold sizes differ by at most one group. Rows sharing a digest (identical rows) go to
 * the same fold, so a duplicate is never scored by a model that trained on its twin. Folds hold
 * ascending row indices; some are empty only when there are fewer distinct rows than folds.
 */
export function stratifiedFolds(
  rows: ArrayLike<number>,
  y: ArrayLike<number>,
  digests: readonly string[],
  k: number,
): Int32Array[] {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`k-fold needs k >= 2, got ${k}`);
  // class -> digest -> rows holding it
  const byClass = new Map<number, Map<string, number[]>>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    let groups = byClass.get(y[r]);
    if (!groups) byClass.set(y[r], (groups = new Map()));
    const group = groups.get(digests[r]);
    if (group) group.push(r);
    else groups.set(digests[r], [r]);
  }
  const folds: number[][] = Array.from({ length: k }, () => []);
  let deal = 0;
  const classes = Array.from(byClass.keys()).sort((a, b) => a - b);
  for (const c of classes) {
    const groups = byClass.get(c) as Map<string, number[]>;
    const order = Array.from(groups.keys()).sort();
    for (const digest of order) {
      const fold = folds[deal % k];
      for (const r of groups.get(digest) as number[]) fold.push(r);
      deal++;
    }
  }
  return folds.map((f) => Int32Array.from(f).sort());
}

/** All rows of `folds` except fold `held`, ascending: what a model is fitted on to score fold `held`. */
export function otherFolds(folds: readonly Int32Array[], held: number): Int32Array {
  let n = 0;
  for (let f = 0; f < folds.length; f++) if (f !== held) n += folds[f].length;
  const out = new Int32Array(n);
  let o = 0;
  for (let f = 0; f < folds.length; f++) {
    if (f === held) continue;
    out.set(folds[f], o);
    o += folds[f].length;
  }
  return out.sort();
}
