import { shortestFloat32 } from '../../core/float32';

describe('shortestFloat32', () => {
  test('shows a float32 as the decimal it was stored from', () => {
    expect(shortestFloat32(Math.fround(4.3))).toBe(4.3);
    expect(shortestFloat32(Math.fround(7.9))).toBe(7.9);
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Math.fround(295.3))).toBe(295.3);
    expect(shortestFloat32(Math.fround(-1e-7))).toBe(-1e-7);
    expect(shortestFloat32(2886)).toBe(2886);
  });

  test('keeps every digit a float32 carries: the result reads back as the same float32', () => {
    for (const value of [Math.PI, 1 / 3, 123456.789, 16777217, 3.4e38, 1.17549435e-38, -0.000123456789]) {
      const shown = shortestFloat32(Math.fround(value));
      expect(Math.fround(shown)).toBe(Math.fround(value));
      expect(
        String(shown)
          .replace(/^-|e.*$|\./g, '')
          .replace(/^0+/, '').length,
      ).toBeLessThanOrEqual(9);
    }
    // float32 tells 1/3 from its neighbours with 8 digits; a 7-digit rounding would change the value.
    expect(shortestFloat32(Math.fround(1 / 3))).toBe(0.33333334);
  });

  test('passes through what is not a finite number', () => {
    expect(shortestFloat32(Number.NaN)).toBeNaN();
    expect(shortestFloat32(Infinity)).toBe(Infinity);
  });
});
