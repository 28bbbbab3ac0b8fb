import { chiSquareSurvival, logGamma, normalSurvival, regularizedGammaQ } from '../../core/rollout/statistics';

/**
 * The gate's distribution functions against published table values and closed forms (chi-square
 * with 2 and 4 degrees of freedom has an elementary survival function).
 */

describe('logGamma', () => {
  test.each([
    [0.5, Math.log(Math.sqrt(Math.PI))],
    [1, 0],
    [10, Math.log(362880)],
    [100, 359.1342053695754],
  ])('ln Γ(%p)', (x, expected) => {
    expect(logGamma(x)).toBeCloseTo(expected, 10);
  });

  test('refuses x <= 0', () => {
    expect(() => logGamma(0)).toThrow(RangeError);
  });
});

describe('chiSquareSurvival', () => {
  test.each([
    // Critical values from any chi-square table: P(X >= x) = alpha.
    [3.841458820694124, 1, 0.05],
    [6.634896601021214, 1, 0.01],
    [9.21034037197618, 2, 0.01],
    [18.307038053275146, 10, 0.05],
    [67.50480866, 50, 0.05],
  ])('P(X >= %p) with %p df is %p', (x, df, p) => {
    expect(chiSquareSurvival(x, df)).toBeCloseTo(p, 6);
  });

  test('matches the closed forms for 2 and 4 degrees of freedom, in the body and far in the tail', () => {
    for (const x of [0.01, 0.5, 1, 2.9, 3, 5.5, 20, 80]) {
      expect(chiSquareSurvival(x, 2) / Math.exp(-x / 2)).toBeCloseTo(1, 9);
      expect(chiSquareSurvival(x, 4) / (Math.exp(-x / 2) * (1 + x / 2))).toBeCloseTo(1, 9);
    }
  });

  test('is 1 at 0 and falls monotonically', () => {
    expect(chiSquareSurvival(0, 3)).toBe(1);
    let previous = 1;
    for (let x = 0.25; x < 40; x += 0.25) {
      const p = chiSquareSurvival(x, 3);
      expect(p).toBeLessThan(previous);
      previous = p;
    }
  });
});

describe('normalSurvival', () => {
  test.each([
    [0, 0.5],
    [1.6448536269514722, 0.05],
    [2.3263478740408408, 0.01],
    [3.090232306167813, 0.001],
    [-1.959963984540054, 0.975],
  ])('P(Z >= %p) = %p', (z, p) => {
    expect(normalSurvival(z)).toBeCloseTo(p, 9);
  });

  test('keeps relative accuracy far in the tail (where 1 - Φ(z) would round to 0)', () => {
    expect(normalSurvival(8) / 6.22096057427178e-16).toBeCloseTo(1, 6);
    expect(normalSurvival(Infinity)).toBe(0);
    expect(normalSurvival(-Infinity)).toBe(1);
  });
});

test('regularizedGammaQ refuses arguments outside its domain', () => {
  expect(() => regularizedGammaQ(0, 1)).toThrow(RangeError);
  expect(() => regularizedGammaQ(1, -1)).toThrow(RangeError);
});
