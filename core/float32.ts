/**
 * The shortest decimal that reads back as the same float32: what a float32 value "is" to a
 * reader. Training stores numbers as float32, so a range of 4.3 to 7.9 comes back as
 * 4.300000190734863 to 7.900000095367432 when widened to a double; float32 carries 6 to 9
 * significant decimal digits, and the first precision that round-trips is the one to show.
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  const target = Math.fround(value);
  for (let digits = 1; digits < 9; digits += 1) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  // 9 significant digits always identify a float32.
  return Number(value.toPrecision(9));
}
