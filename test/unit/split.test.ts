import { stratifiedSplit } from '../../training/split';

const labels = Int32Array.from({ length: 1000 }, (_, i) => (i % 100 < 3 ? 1 : 0)); // 3% positives

describe('stratifiedSplit', () => {
  test('keeps each class in the same proportion in train, validation and holdout', () => {
    const s = stratifiedSplit(labels, 2, 42);
    const positives = (rows: Int32Array) => Array.from(rows).filter((r) => labels[r] === 1).length;
    expect([s.train.length, s.validation.length, s.holdout.length]).toEqual([600, 200, 200]);
    expect([positives(s.train), positives(s.validation), positives(s.holdout)]).toEqual([18, 6, 6]);
  });

  test('is a partition of the rows', () => {
    const s = stratifiedSplit(labels, 2, 7);
    const all = [...s.train, ...s.validation, ...s.holdout].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  test('is deterministic for a seed and differs between seeds', () => {
    expect(stratifiedSplit(labels, 2, 42)).toEqual(stratifiedSplit(labels, 2, 42));
    expect(stratifiedSplit(labels, 2, 42).holdout).not.toEqual(stratifiedSplit(labels, 2, 43).holdout);
  });
});
