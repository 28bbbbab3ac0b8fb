/**
 * Array helpers for data-sized arrays. `target.push(...items)` and `Math.max(...values)` pass every
 * element as a call argument and throw RangeError (Maximum call stack size exceeded) past about
 * 100,000 elements; these loop instead. Lint forbids spreading into a call in the data paths
 * (eslint.config.mjs), so a training set or a window of records never meets that cliff.
 */

/** Appends every item to `target`, in order; returns `target`. */
export function pushAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** As Math.max over the values: -Infinity when there are none, NaN when one is NaN. */
export function maxOf(values: Iterable<number>): number {
  let max = -Infinity;
  for (const value of values) {
    if (Number.isNaN(value)) return NaN;
    if (value > max || (value === 0 && Object.is(max, -0))) max = value;
  }
  return max;
}

/** As Math.min over the values: Infinity when there are none, NaN when one is NaN. */
export function minOf(values: Iterable<number>): number {
  let min = Infinity;
  for (const value of values) {
    if (Number.isNaN(value)) return NaN;
    if (value < min || Object.is(value, -0)) min = value;
  }
  return min;
}
