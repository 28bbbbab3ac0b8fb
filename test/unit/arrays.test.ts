import { maxOf, minOf, pushAll } from '../../core/arrays';
import { lintRulesHit } from '../helpers/lint-snippet';

const BIG = 500_000;

describe('array helpers for data-sized arrays', () => {
  test('pushAll, maxOf and minOf work where spreading into a call throws', () => {
    const values = Array.from({ length: BIG }, (_, i) => (i * 7919) % BIG);
    // The cliff they exist for: V8 refuses this many call arguments.
    expect(() => Math.max(...values)).toThrow(RangeError);
    expect(() => [].push(...(values as never[]))).toThrow(RangeError);
    expect(maxOf(values)).toBe(BIG - 1);
    expect(minOf(values)).toBe(0);
    const target = [-1];
    expect(pushAll(target, values)).toBe(target);
    expect(target).toHaveLength(BIG + 1);
    expect(target[1]).toBe(values[0]);
    expect(target[BIG]).toBe(values[BIG - 1]);
  });

  test('maxOf and minOf answer as Math.max and Math.min on the edge cases', () => {
    for (const xs of [[], [3], [1, NaN, 2], [-0, 0], [Infinity, -Infinity], [2, 5, -1]]) {
      expect(maxOf(xs)).toBe(Math.max(...xs));
      expect(minOf(xs)).toBe(Math.min(...xs));
    }
  });
});

describe('the lint rule that keeps the cliff out of the data paths', () => {
  const SOURCE = 'export const f = (xs: number[], out: number[]) => { out.push(...xs); return Math.max(...xs); };\n';

  test('flags spreading into a call in the data paths (training, core, lambdas, local), not in synth-time lib/', () => {
    expect(
      lintRulesHit([
        { source: SOURCE, file: 'training/x.ts' },
        { source: SOURCE, file: 'lib/constructs/x.ts' },
      ]),
    ).toEqual([['no-restricted-syntax', 'no-restricted-syntax'], []]);
  });
});
