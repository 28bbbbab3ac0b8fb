import { pickBest, TIE_TOLERANCE } from '../../training/selection';

const c = (algorithm: string, score: number, parameters: number) => ({ algorithm, score, parameters });

describe('pickBest', () => {
  test('takes the best score when nothing else is within the tolerance', () => {
    const pick = pickBest([c('lr', 0.9, 15), c('rf', 0.95, 12400), c('nb', 0.93, 27)]);
    expect(pick).toMatchObject({ index: 1, tied: [1], tieBreak: false });
    expect(pick.reason).toBe('rf has the best selection score (0.9500)');
  });

  test('among scores within 0.001 of the best, the fewest parameters win, even when listed later', () => {
    const pick = pickBest(
      [c('rf', 0.951, 12400), c('lr', 0.9502, 15), c('nb', 0.9, 3)],
      TIE_TOLERANCE,
      'validation macro F1',
    );
    expect(pick).toMatchObject({ index: 1, tied: [0, 1], tieBreak: true });
    expect(pick.reason).toBe('rf and lr tie within 0.001 on validation macro F1; lr chosen: 15 parameters vs 12,400');
  });

  test('a score exactly the tolerance below the best still ties (despite floating point)', () => {
    expect(pickBest([c('rf', 0.951, 100), c('lr', 0.95, 10)]).index).toBe(1);
    expect(pickBest([c('rf', 0.9511, 100), c('lr', 0.95, 10)]).index).toBe(0);
  });

  test('equal parameter counts fall back to the order given (the algorithms order)', () => {
    const pick = pickBest([c('lr', 0.9, 15), c('svm', 0.9, 15), c('gbdt', 0.9, 900)]);
    expect(pick.index).toBe(0);
    expect(pick.tied).toEqual([0, 1, 2]);
    expect(pick.reason).toMatch(/lr chosen: 15 parameters, as few as svm, and earlier in the algorithms' order/);
  });

  test('a zero tolerance only ties equal scores; NaN scores never win', () => {
    expect(pickBest([c('rf', 0.95, 100), c('lr', 0.9495, 10)], 0).index).toBe(0);
    expect(pickBest([c('rf', Number.NaN, 1), c('lr', 0.2, 10)]).index).toBe(1);
  });

  test('rejects an empty list and a negative tolerance', () => {
    expect(() => pickBest([])).toThrow(/no candidates/);
    expect(() => pickBest([c('lr', 1, 1)], -1)).toThrow(/tolerance/);
  });
});
