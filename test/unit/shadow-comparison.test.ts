import { compareWithShadow } from '../../lambdas/inference/shadow';

const CLASSES = ['a', 'b', 'c'];

describe('compareWithShadow', () => {
  test("agreement is the share of rows with the same label; the delta is the mean of each row's largest probability difference", () => {
    const served = {
      classes: CLASSES,
      probabilities: [
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],
        [0.3, 0.3, 0.4],
        [1, 0, 0],
      ],
    };
    const shadow = {
      classes: CLASSES,
      probabilities: [
        [0.6, 0.3, 0.1],
        [0.5, 0.4, 0.1],
        [0.3, 0.3, 0.4],
        [0.5, 0.5, 0],
      ],
    };
    const result = compareWithShadow(served, shadow);
    // labels: a/a, b/a, c/c, a/a (a tie goes to the first class, as in the answer)
    expect(result.agreement).toBe(0.75);
    expect(result.probabilityDelta).toBeCloseTo((0.1 + 0.4 + 0 + 0.5) / 4, 12);
  });

  test('matches classes by name when the shadow lists them in another order', () => {
    const served = { classes: CLASSES, probabilities: [[0.7, 0.2, 0.1]] };
    const shadow = { classes: ['c', 'a', 'b'], probabilities: [[0.1, 0.7, 0.2]] };
    expect(compareWithShadow(served, shadow)).toEqual({ agreement: 1, probabilityDelta: 0 });
  });

  test('a class only one of them has counts as probability 0 in the other', () => {
    const served = { classes: ['a', 'b'], probabilities: [[0.6, 0.4]] };
    const shadow = { classes: ['a', 'b', 'new'], probabilities: [[0.2, 0.1, 0.7]] };
    const result = compareWithShadow(served, shadow);
    expect(result.agreement).toBe(0);
    expect(result.probabilityDelta).toBeCloseTo(0.7, 12);
  });

  test('fails when the shadow scored another number of rows', () => {
    expect(() =>
      compareWithShadow({ classes: CLASSES, probabilities: [[1, 0, 0]] }, { classes: CLASSES, probabilities: [] }),
    ).toThrow(/0 rows for 1/);
  });
});
