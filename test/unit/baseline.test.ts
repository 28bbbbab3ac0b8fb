import type { FeatureValue } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import {
  baselineProblems,
  binIndex,
  commonestTokens,
  computeBaseline,
  coverageShare,
  numericFeatureValue,
  quantileEdges,
  recordRows,
} from '../../core/monitoring/baseline';
import {
  type Baseline,
  COVERAGE_EDGES,
  type NumericBaseline,
  TEXT_VOCABULARY_SIZE,
  type TextBaseline,
} from '../../core/monitoring/contract';

/** Manifest-like features: only the name and the type matter to a baseline. */
const feature = (name: string, type: ManifestFeature['type']): ManifestFeature => ({
  name,
  type,
  input: name,
  missing: { policy: 'empty', value: '' },
});
const column = (name: string, values: readonly FeatureValue[]) => recordRows(values.map((v) => ({ [name]: v })));
const noPredictions = { classes: ['a'], predicted: [] };

function numericOf(values: readonly FeatureValue[]): NumericBaseline {
  return computeBaseline([feature('x', 'numeric')], column('x', values), noPredictions).features[0] as NumericBaseline;
}

describe('binIndex', () => {
  test('puts a value in the bin (-inf, e0], (e0, e1], ..., (e_last, +inf) whose right end it does not pass', () => {
    const edges = [1, 2, 3];
    expect([-Infinity, 0, 1, 1.5, 2, 3, 3.1, Infinity].map((v) => binIndex(edges, v))).toEqual([
      0, 0, 0, 1, 1, 2, 3, 3,
    ]);
    expect(binIndex([], 42)).toBe(0);
    expect(binIndex([0.5], 0.5)).toBe(0);
  });

  test('answers -1 for NaN, which is no value', () => {
    expect(binIndex([1, 2], Number.NaN)).toBe(-1);
  });
});

describe('numeric baselines', () => {
  test('deciles of 1..10 are 1..9, one row per bin; null, undefined and blank strings are missing', () => {
    const b = numericOf([7, 3, 10, 1, null, 5, '', 2, 9, undefined, 4, '  ', 8, 6]);
    expect(b).toEqual({
      feature: 'x',
      type: 'numeric',
      edges: [1, 2, 3, 4, 5, 6, 7, 8, 9],
      counts: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      missing: 4,
      min: 1,
      max: 10,
    });
  });

  test('four values: lower deciles at ceil(k n / 10) - 1 give edges 1, 2, 3, 4 and an empty top bin', () => {
    // sorted [1, 2, 3, 4]: k = 1..9 -> indices 0 0 1 1 1 2 2 3 3 -> values 1 1 2 2 2 3 3 4 4, duplicates dropped.
    expect(numericOf([4, 1, 3, 2])).toMatchObject({ edges: [1, 2, 3, 4], counts: [1, 1, 1, 1, 0], min: 1, max: 4 });
  });

  test('few values: repeated deciles collapse into unique, strictly ascending edges', () => {
    // seven 5s and three 9s: deciles 1-7 are 5, 8-9 are 9.
    expect(numericOf([5, 9, 5, 5, 9, 5, 5, 5, 9, 5])).toMatchObject({
      edges: [5, 9],
      counts: [7, 3, 0],
      missing: 0,
      min: 5,
      max: 9,
    });
  });

  test('a constant column has one edge with every row at or below it', () => {
    expect(numericOf([3, 3, '3', 3.0])).toMatchObject({ edges: [3], counts: [4, 0], min: 3, max: 3 });
  });

  test('a column with no value at all has no edges, one empty bin and the range [0, 0]', () => {
    expect(numericOf([null, '', undefined])).toEqual({
      feature: 'x',
      type: 'numeric',
      edges: [],
      counts: [0],
      missing: 3,
      min: 0,
      max: 0,
    });
  });

  test('reads numeric strings, treats non-numbers, NaN and infinities as missing, and -0 as 0', () => {
    expect([' 2.5 ', 'abc', Number.NaN, Infinity, -0, 7].map(numericFeatureValue)).toEqual([
      2.5,
      undefined,
      undefined,
      undefined,
      0,
      7,
    ]);
    expect(Object.is(numericFeatureValue(-0), 0)).toBe(true);
    expect(numericOf([' 2.5 ', 'abc', 1])).toMatchObject({ missing: 1, min: 1, max: 2.5 });
  });

  test('quantileEdges of nothing is no edges', () => {
    expect(quantileEdges(new Float64Array(0))).toEqual([]);
  });
});

describe('categorical baselines', () => {
  test('counts each trimmed category (numbers as their text) and the missing rows', () => {
    const b = computeBaseline(
      [feature('c', 'categorical')],
      column('c', ['b', ' a ', null, 'a', '', 'b', 'a', 1, undefined]),
      noPredictions,
    ).features[0];
    expect(b).toEqual({ feature: 'c', type: 'categorical', counts: { 1: 1, a: 3, b: 2 }, missing: 3 });
  });

  test('keeps a category named like an object property as a category', () => {
    const b = computeBaseline(
      [feature('c', 'categorical')],
      column('c', ['__proto__', 'constructor', '__proto__']),
      noPredictions,
    ).features[0];
    expect(JSON.parse(JSON.stringify(b))).toEqual({
      feature: 'c',
      type: 'categorical',
      counts: JSON.parse('{"__proto__":2,"constructor":1}'),
      missing: 0,
    });
  });
});

describe('text baselines', () => {
  // tokens: [the cat sat] [the cat] [the dog ran far] missing missing [] [dog]
  const rows = ['The cat sat', 'the cat', 'THE dog ran far', null, '   ', '!!!', 'dog'];
  const text = (vocabularySize?: number) =>
    computeBaseline(
      [feature('t', 'text')],
      column('t', rows),
      noPredictions,
      vocabularySize === undefined ? {} : { vocabularySize },
    ).features[0] as TextBaseline;

  test('worked by hand with a two-token vocabulary: lengths, vocabulary, coverage and missing', () => {
    // the: 3, cat: 2, dog: 2 -> [the, cat] (cat before dog on the tie). Coverage: 2/3 -> (0.5, 0.75],
    // 2/2 -> (0.999999, inf), 1/4 -> (-inf, 0.25], no tokens -> 0, [dog] -> 0.
    // Lengths 3 2 4 0 1: sorted [0 1 2 3 4], deciles at indices 0 0 1 1 2 2 3 3 4.
    expect(text(2)).toEqual({
      feature: 't',
      type: 'text',
      lengthEdges: [0, 1, 2, 3, 4],
      lengthCounts: [1, 1, 1, 1, 1, 0],
      vocabulary: ['the', 'cat'],
      coverageCounts: [3, 0, 1, 0, 0, 1],
      missing: 2,
    });
  });

  test('with the full vocabulary every token is known: rows with tokens are fully covered', () => {
    const b = text();
    expect(b.vocabulary).toEqual(['the', 'cat', 'dog', 'far', 'ran', 'sat']);
    expect(b.coverageCounts).toEqual([1, 0, 0, 0, 0, 4]);
  });

  test('keeps at most TEXT_VOCABULARY_SIZE tokens, the commonest, ties in code-unit order', () => {
    const many = Array.from({ length: TEXT_VOCABULARY_SIZE + 100 }, (_, i) => `w${String(i).padStart(4, '0')}`);
    const documents = [...many.map((w) => `common ${w}`), 'common Zebra zebra'];
    const b = computeBaseline([feature('t', 'text')], column('t', documents), noPredictions)
      .features[0] as TextBaseline;
    expect(b.vocabulary).toHaveLength(TEXT_VOCABULARY_SIZE);
    expect(b.vocabulary.slice(0, 3)).toEqual(['common', 'zebra', 'w0000']);
    expect(b.vocabulary.at(-1)).toBe(`w${String(TEXT_VOCABULARY_SIZE - 3).padStart(4, '0')}`);
    expect(
      commonestTokens(
        new Map([
          ['b', 1],
          ['B', 1],
          ['a', 1],
          ['c', 2],
        ]),
        3,
      ),
    ).toEqual(['c', 'B', 'a']);
  });

  test("coverageShare is the known share of a row's tokens, 0 for a row without tokens", () => {
    const known = new Set(['a', 'b']);
    expect([[], ['a'], ['a', 'z'], ['z', 'z', 'z', 'a']].map((t) => coverageShare(t, known))).toEqual([
      0, 1, 0.5, 0.25,
    ]);
    expect(COVERAGE_EDGES.map((e) => binIndex(COVERAGE_EDGES, e))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('prediction baselines', () => {
  test('count the holdout rows per predicted class, every class listed in manifest order', () => {
    const b = computeBaseline([], recordRows([]), {
      classes: ['setosa', 'versicolor', 'virginica'],
      predicted: Int32Array.from([2, 0, 2, 2]),
    });
    expect(b).toEqual({ rows: 0, features: [], predictions: { setosa: 1, versicolor: 0, virginica: 3 } });
    expect(Object.keys(b.predictions)).toEqual(['setosa', 'versicolor', 'virginica']);
  });

  test('refuse a class index that is not a class', () => {
    expect(() => computeBaseline([], recordRows([]), { classes: ['a', 'b'], predicted: [0, 2] })).toThrow(
      /holdout row 1 predicts class index 2; there are 2 classes/,
    );
  });
});

describe('at scale', () => {
  test('a million rows of a numeric and a categorical column: no call spreads them, counts add up', () => {
    const n = 1_000_000;
    const rows = {
      count: n,
      value: (f: string, r: number): FeatureValue =>
        f === 'x' ? (r % 1000 === 0 ? null : (r * 7919) % 100_003) : `c${r % 7}`,
    };
    const started = performance.now();
    const b = computeBaseline([feature('x', 'numeric'), feature('c', 'categorical')], rows, {
      classes: ['a'],
      predicted: new Int32Array(n),
    });
    const seconds = (performance.now() - started) / 1000;
    const x = b.features[0] as NumericBaseline;
    expect(x.edges).toHaveLength(9);
    expect(x.counts.reduce((a, c) => a + c, 0) + x.missing).toBe(n);
    expect(x.missing).toBe(1000);
    expect(
      baselineProblems(b, { features: [feature('x', 'numeric'), feature('c', 'categorical')], classes: ['a'] }),
    ).toEqual([]);
    expect(seconds).toBeLessThan(20); // about 1 s here; a quadratic or spreading version would not finish or would throw
  });
});

describe('baselineProblems', () => {
  const features = [feature('x', 'numeric'), feature('c', 'categorical'), feature('t', 'text')];
  const manifest = { features, classes: ['no', 'yes'] };
  const records = [
    { x: 1, c: 'a', t: 'good fine' },
    { x: 2, c: 'b', t: 'bad' },
    { x: null, c: null, t: null },
  ];
  const valid = computeBaseline(features, recordRows(records), { classes: ['no', 'yes'], predicted: [1, 1, 0] });
  /** The valid baseline with one feature's fields replaced. */
  const withFeature = (name: string, change: Record<string, unknown>) => ({
    ...valid,
    features: valid.features.map((f) => (f.feature === name ? { ...f, ...change } : f)),
  });

  test('finds nothing wrong with a computed baseline', () => {
    expect(baselineProblems(valid, manifest)).toEqual([]);
  });

  test('names edges that are not strictly ascending or not finite', () => {
    expect(baselineProblems(withFeature('x', { edges: [2, 1], counts: [0, 1, 1] }), manifest)).toEqual([
      'feature "x" (numeric) edges are not strictly ascending (2 then 1)',
    ]);
    expect(baselineProblems(withFeature('x', { edges: [1, 1], counts: [1, 0, 1] }), manifest)).toEqual([
      'feature "x" (numeric) edges are not strictly ascending (1 then 1)',
    ]);
    expect(baselineProblems(withFeature('t', { lengthEdges: [1, null] }), manifest)).toEqual([
      'feature "t" (text) lengthEdges holds a value that is not a finite number',
    ]);
  });

  test('names counts of the wrong length, negative or fractional counts, and totals that are not rows', () => {
    expect(baselineProblems(withFeature('x', { counts: [1, 1] }), manifest)).toEqual([
      'feature "x" (numeric) counts has 2 entries, expected 3 (one per bin)',
    ]);
    expect(baselineProblems(withFeature('x', { counts: [3, -1, 0] }), manifest)).toEqual([
      'feature "x" (numeric) counts holds a value that is not a non-negative integer',
    ]);
    expect(baselineProblems(withFeature('c', { counts: { a: 1.5, b: 0.5 } }), manifest)).toEqual([
      'feature "c" (categorical) counts holds a value that is not a non-negative integer',
    ]);
    expect(baselineProblems(withFeature('c', { missing: 0 }), manifest)).toEqual([
      'feature "c" (categorical) counts (2) and missing (0) sum to 2, not the baseline\'s 3 rows',
    ]);
    expect(baselineProblems({ ...valid, rows: 4 }, manifest)).toHaveLength(3);
    expect(baselineProblems(withFeature('t', { coverageCounts: [0, 0, 0, 0, 0, 2, 0] }), manifest)).toEqual([
      'feature "t" (text) coverageCounts has 7 entries, expected 6 (one per bin)',
    ]);
    expect(baselineProblems(withFeature('t', { coverageCounts: [1, 0, 0, 0, 0, 2] }), manifest)).toEqual([
      'feature "t" (text) coverageCounts sum to 3 but lengthCounts to 2',
    ]);
  });

  test('names a range whose min is above its max', () => {
    expect(baselineProblems(withFeature('x', { min: 3, max: 1 }), manifest)).toEqual([
      'feature "x" (numeric) min 3 is above max 1',
    ]);
  });

  test('names a vocabulary over the cap or with repeats', () => {
    const big = Array.from({ length: TEXT_VOCABULARY_SIZE + 1 }, (_, i) => `t${i}`);
    expect(baselineProblems(withFeature('t', { vocabulary: big }), manifest)).toEqual([
      `feature "t" (text) vocabulary has ${TEXT_VOCABULARY_SIZE + 1} tokens, more than ${TEXT_VOCABULARY_SIZE}`,
    ]);
    expect(baselineProblems(withFeature('t', { vocabulary: ['a', 'a'] }), manifest)).toEqual([
      'feature "t" (text) vocabulary lists a token twice',
    ]);
  });

  test('names features without a baseline, baselines of no feature, repeats and wrong types', () => {
    const [x, c, t] = valid.features;
    expect(baselineProblems({ ...valid, features: [x, t] }, manifest)).toEqual(['no baseline for feature "c"']);
    expect(baselineProblems({ ...valid, features: [x, c, t, { ...x, feature: 'y' }] }, manifest)).toEqual([
      'feature "y" is not a feature of the manifest',
    ]);
    expect(baselineProblems({ ...valid, features: [x, c, t, x] }, manifest)).toEqual([
      'feature "x" has more than one baseline',
    ]);
    expect(baselineProblems({ ...valid, features: [x, { ...c, type: 'numeric' }, t] }, manifest)).toEqual([
      'feature "c" has a numeric baseline but is categorical in the manifest',
    ]);
  });

  test('names classes the predictions lack or add', () => {
    expect(baselineProblems({ ...valid, predictions: { no: 1 } }, manifest)).toEqual([
      'predictions lack the classes "yes"',
    ]);
    expect(baselineProblems({ ...valid, predictions: { no: 1, yes: 2, maybe: 0 } }, manifest)).toEqual([
      'predictions list "maybe", not classes of the manifest',
    ]);
    expect(baselineProblems({ ...valid, predictions: { no: 1, yes: -2 } }, manifest)).toEqual([
      'predictions hold a value that is not a non-negative integer',
    ]);
  });

  test('names a baseline that is not the right shape at all', () => {
    expect(baselineProblems(null, manifest)).toEqual(['baseline is not an object']);
    expect(baselineProblems([], manifest)).toEqual(['baseline is not an object']);
    const broken = { rows: -1, features: 'x', predictions: [] } as unknown as Baseline;
    expect(baselineProblems(broken, manifest)).toEqual([
      'rows is not a non-negative integer',
      'features is not an array',
      'no baseline for features "x", "c", "t"',
      'predictions is not an object of class -> rows',
    ]);
  });
});
