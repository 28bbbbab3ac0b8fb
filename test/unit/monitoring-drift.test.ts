import type { CategoricalBaseline, NumericBaseline, TextBaseline } from '../../core/monitoring/contract';
import {
  chiSquareGoodnessOfFit,
  featureDrift,
  OTHER_LABEL,
  PredictionDriftAccumulator,
  psi,
  PSI_EMPTY_SHARE,
  verdictOf,
} from '../../core/monitoring/drift';
import { chiSquareSurvival } from '../../core/rollout/statistics';
import expected from '../fixtures/drift/expected.json';

/**
 * The drift statistics against values computed independently: small tables worked by hand here,
 * and numpy / scipy results in test/fixtures/drift/expected.json (make_expected.py).
 */

const judged = { threshold: 0.25, judged: true };

describe('psi, worked by hand', () => {
  test('three bins, no empty one: 0.2 * ln(5/3) + 0 + 0.2 * ln 2', () => {
    // Shares 0.5/0.3/0.2 -> 0.3/0.3/0.4: (0.3 - 0.5) ln(0.3 / 0.5) = 0.1021651, (0.4 - 0.2) ln 2 = 0.1386294.
    expect(psi([50, 30, 20], [30, 30, 40])).toBeCloseTo(0.2407946, 7);
  });

  test('is zero for the same distribution at any scale, and does not depend on the order of bins', () => {
    expect(psi([3, 5, 0, 2], [30, 50, 0, 20])).toBe(0);
    expect(psi([20, 30, 50], [40, 30, 30])).toBeCloseTo(psi([50, 30, 20], [30, 30, 40]), 12);
  });

  test('an empty bin counts as PSI_EMPTY_SHARE (0.0001), so the index stays finite', () => {
    // Baseline [1/2, 1/2, 0], live [1/2, 1/4, 1/4]: (1/4 - 1/2) ln(1/2) + (1/4 - 1e-4) ln(1/4 / 1e-4).
    const byHand = 0.25 * Math.LN2 + (0.25 - PSI_EMPTY_SHARE) * Math.log(0.25 / PSI_EMPTY_SHARE);
    expect(PSI_EMPTY_SHARE).toBe(1e-4);
    expect(psi([10, 10, 0], [4, 2, 2])).toBeCloseTo(byHand, 12);
    expect(Number.isFinite(psi([1, 0], [0, 1]))).toBe(true);
  });

  test('fails when the bins differ or a side has no rows', () => {
    expect(() => psi([1, 2], [1, 2, 3])).toThrow(/same bins/);
    expect(() => psi([0, 0], [1, 2])).toThrow(/rows on both sides/);
  });
});

describe('psi against numpy', () => {
  test.each(expected.psi)('expected $expected, actual $actual', ({ expected: e, actual: a, psi: value }) => {
    expect(psi(e, a)).toBeCloseTo(value, 10);
  });
});

describe('verdicts', () => {
  test.each([
    [0.05, 'stable'],
    [0.1, 'moderate'],
    [0.2499, 'moderate'],
    [0.25, 'drift'],
    [3, 'drift'],
  ] as const)('PSI %p against threshold 0.25 is %p', (score, verdict) => {
    expect(verdictOf(score, 0.25, true)).toBe(verdict);
  });

  test('not judged (too few records, no baseline) or no score is not-judged, whatever the score', () => {
    expect(verdictOf(5, 0.25, false)).toBe('not-judged');
    expect(verdictOf(null, 0.25, true)).toBe('not-judged');
  });
});

describe('numeric drift', () => {
  const baseline: NumericBaseline = {
    feature: 'x',
    type: 'numeric',
    edges: [1, 2],
    counts: [2, 2, 2],
    missing: 0,
    min: 0,
    max: 3,
  };

  test('bins (-inf, 1], (1, 2], (2, inf) and a missing bin, worked by hand', () => {
    // 0.5 and 1 (on the edge: lower bin) -> bin 0; 1.5 -> 1; 2.5 and 4 -> 2; null -> missing.
    // Live shares 1/3, 1/6, 1/3, 1/6 vs 1/3, 1/3, 1/3, 0 (floored to 1e-4):
    // (1/6 - 1/3) ln(1/2) = 0.1155245 and (1/6 - 1e-4) ln((1/6) / 1e-4) = 1.2356883.
    const result = featureDrift(baseline, [0.5, 1, 1.5, 2.5, 4, null], judged);
    expect(result.score).toBeCloseTo(1.3512128, 6);
    expect(result).toMatchObject({ feature: 'x', type: 'numeric', test: 'psi', verdict: 'drift', threshold: 0.25 });
    expect(result.missingShare).toBeCloseTo(1 / 6, 12);
    // 4 is above max 3; 0.5 is inside [0, 3].
    expect(result.outOfRangeShare).toBeCloseTo(1 / 6, 12);
  });

  test('numeric strings count as numbers; empty and non-numeric strings as missing', () => {
    const asNumbers = featureDrift(baseline, [0.5, 1.5, 2.5], judged);
    const asStrings = featureDrift(baseline, ['0.5', ' 1.5 ', '2.5'], judged);
    expect(asStrings.score).toBe(asNumbers.score);
    expect(featureDrift(baseline, ['', 'abc', null, undefined], judged).missingShare).toBe(1);
  });

  test('matches numpy on a shifted, wider sample with gaps, extremes and a value on an edge', () => {
    const { baseline: b, live, psi: value, missingShare, outOfRangeShare } = expected.numeric;
    const result = featureDrift(b as NumericBaseline, live, judged);
    expect(result.score).toBeCloseTo(value, 10);
    expect(result.missingShare).toBeCloseTo(missingShare, 12);
    expect(result.outOfRangeShare).toBeCloseTo(outOfRangeShare, 12);
  });

  test('has no score without records', () => {
    expect(featureDrift(baseline, [], judged)).toMatchObject({ score: null, verdict: 'not-judged', missingShare: 0 });
  });
});

describe('categorical drift', () => {
  test("worked by hand: PSI over the categories, missing and unseen; chi-square over the baseline's support", () => {
    const baseline: CategoricalBaseline = { feature: 'c', type: 'categorical', counts: { a: 50, b: 50 }, missing: 0 };
    const result = featureDrift(baseline, [...Array(30).fill('a'), ...Array(10).fill('b')], judged);
    // Shares 0.75/0.25 vs 0.5/0.5: 0.25 ln 1.5 + 0.25 ln 2 (missing and unseen are empty on both sides).
    expect(result.score).toBeCloseTo(0.25 * Math.log(1.5) + 0.25 * Math.LN2, 12);
    // Expected 20 and 20: (30-20)²/20 + (10-20)²/20 = 10 with 1 df; scipy.stats.chi2.sf(10, 1) = 0.001565402.
    expect(result.chiSquare?.statistic).toBeCloseTo(10, 12);
    expect(result.chiSquare?.degreesOfFreedom).toBe(1);
    expect(result.chiSquare?.pValue).toBeCloseTo(0.001565402258, 9);
    expect(result.unseenShare).toBe(0);
  });

  test.each(expected.categorical.map((c, i) => [i, c] as const))(
    'matches numpy and scipy.stats.chisquare, table %p',
    (_, c) => {
      const result = featureDrift(c.baseline as unknown as CategoricalBaseline, c.live, judged);
      expect(result.score).toBeCloseTo(c.psi, 10);
      expect(result.missingShare).toBeCloseTo(c.missingShare, 12);
      expect(result.unseenShare).toBeCloseTo(c.unseenShare, 12);
      expect(result.chiSquare?.statistic).toBeCloseTo(c.chiSquare.statistic, 9);
      expect(result.chiSquare?.degreesOfFreedom).toBe(c.chiSquare.degreesOfFreedom);
      expect(result.chiSquare?.pValue).toBeCloseTo(c.chiSquare.pValue, 9);
      expect(result.chiSquare?.pValue).toBeGreaterThan(0);
    },
  );

  test('unseen categories alone are drift: the baseline never had them', () => {
    const baseline: CategoricalBaseline = { feature: 'c', type: 'categorical', counts: { a: 10, b: 10 }, missing: 0 };
    const result = featureDrift(
      baseline,
      [...Array(80).fill('a'), ...Array(80).fill('b'), ...Array(40).fill('zzz')],
      judged,
    );
    expect(result.unseenShare).toBeCloseTo(0.2, 12);
    expect(result.verdict).toBe('drift');
    // The unseen rows are left out of the chi-square test; the rest fit the baseline exactly.
    expect(result.chiSquare?.statistic).toBeCloseTo(0, 12);
  });

  test('has no chi-square test for a single category', () => {
    expect(chiSquareGoodnessOfFit([5, 0, 0], [3, 1, 1])).toBeUndefined();
  });
});

describe('text drift', () => {
  test('matches numpy: the larger of the token-count and vocabulary-coverage PSIs', () => {
    const { baseline, live, psi: value, lengthPsi, coveragePsi, missingShare } = expected.text;
    const result = featureDrift(baseline as TextBaseline, live, judged);
    expect(result.score).toBeCloseTo(value, 10);
    expect(result.score).toBeCloseTo(Math.max(lengthPsi, coveragePsi), 10);
    expect(result.missingShare).toBeCloseTo(missingShare, 12);
    expect(result.type).toBe('text');
  });

  test('worked by hand: vocabulary coverage moves while lengths stay', () => {
    const baseline: TextBaseline = {
      feature: 't',
      type: 'text',
      lengthEdges: [2],
      lengthCounts: [0, 10],
      vocabulary: ['good', 'film'],
      coverageCounts: [0, 0, 0, 0, 0, 10],
      missing: 0,
    };
    // Every live row has 4 tokens (length bin 1, as in training), half of them known: coverage 0.5 -> bin (0.25, 0.5].
    const result = featureDrift(baseline, Array(10).fill('Good film, NEW words'), judged);
    // Coverage: shares 1 in bin 1 vs 1 in bin 5: 2 * (1 - 1e-4) ln(1 / 1e-4).
    expect(result.score).toBeCloseTo(2 * (1 - PSI_EMPTY_SHARE) * Math.log(1 / PSI_EMPTY_SHARE), 10);
  });
});

describe('prediction drift', () => {
  test('matches numpy on the predicted-label distribution', () => {
    const accumulator = new PredictionDriftAccumulator(expected.predictions.baseline);
    for (const label of expected.predictions.live) accumulator.add(label);
    const result = accumulator.result();
    expect(result.score).toBeCloseTo(expected.predictions.psi, 10);
    expect(Object.values(result.live).reduce((a, b) => a + b, 0)).toBe(expected.predictions.live.length);
  });

  test('a label the baseline does not list lands in its own bin and is listed', () => {
    const accumulator = new PredictionDriftAccumulator({ a: 5, b: 5 });
    ['a', 'b', 'c', 'c'].forEach((label) => accumulator.add(label));
    const result = accumulator.result();
    expect(result.live).toEqual({ a: 1, b: 1, c: 2 });
    // (1/4 - 1/2) ln(1/2) twice + (1/2 - 1e-4) ln(1/2 / 1e-4).
    expect(result.score).toBeCloseTo(2 * 0.25 * Math.LN2 + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 10);
    expect(OTHER_LABEL).toBe('(other)');
  });

  test('has no score without live labels', () => {
    expect(new PredictionDriftAccumulator({ a: 1 }).result()).toEqual({ score: null, live: { a: 0 } });
  });
});

test('chi-square survival agrees with scipy.stats.chi2.sf', () => {
  for (const { x, df, sf } of expected.chiSquareSurvival) expect(chiSquareSurvival(x, df)).toBeCloseTo(sf, 10);
});
