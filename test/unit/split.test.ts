import type { RawTable } from '../../core/data/load';
import { labelledSplit } from '../../training/train';
import {
  canonicalRow,
  contentSplit,
  rowDigest,
  sameSplit,
  SPLIT_SCHEME,
  splitPart,
  splitRecord,
  tableDigests,
} from '../../training/split';

/** A table of `n` distinct rows, 3% of them class "1" (the rare class). */
function table(n: number, columns = ['x', 'y', 'label']): RawTable {
  const rows = Array.from({ length: n }, (_, i) => {
    const byName: Record<string, string> = {
      x: String(i),
      y: String((i * 7919) % 1000),
      label: i % 100 < 3 ? '1' : '0',
    };
    return columns.map((c) => byName[c]);
  });
  return {
    columns,
    rows,
    origin: rows.map((_, i) => ({ file: 0, line: i + 1 })),
    sources: [],
    format: { delimiter: ',', header: true, quoting: true },
  };
}

const partOfEveryRow = (t: RawTable, seed: number) => {
  const { split, digests } = labelledSplit(t, { label: 'label' }, seed);
  const part = new Map<string, string>();
  for (const name of ['train', 'validation', 'holdout'] as const)
    for (const r of split[name]) part.set(digests[r], name);
  return part;
};

/** Whether `k` successes of `n` draws at probability `p` lie in the two-sided 99.9% interval (normal approximation). */
const withinBinomial = (k: number, n: number, p: number) =>
  Math.abs(k - n * p) <= 3.29 * Math.sqrt(n * p * (1 - p)) + 1;

describe('content split', () => {
  test('puts the same row in the same part in every run, whatever the other rows and their order', () => {
    const big = table(5000);
    const reversed: RawTable = { ...big, rows: [...big.rows].reverse() };
    const half: RawTable = { ...big, rows: big.rows.slice(0, 2500) };
    const all = partOfEveryRow(big, 42);
    for (const other of [partOfEveryRow(reversed, 42), partOfEveryRow(half, 42)]) {
      for (const [digest, part] of other) expect(all.get(digest)).toBe(part);
    }
    expect(partOfEveryRow(half, 42).size).toBe(2500);
  });

  test('does not depend on the order of the columns in the file', () => {
    const a = table(300);
    const b = table(300, ['label', 'y', 'x']);
    expect(labelledSplit(a, { label: 'label' }, 42).split).toEqual(labelledSplit(b, { label: 'label' }, 42).split);
    expect(labelledSplit(a, { label: 'label' }, 42).digests).toEqual(labelledSplit(b, { label: 'label' }, 42).digests);
  });

  test('is a partition of the rows in the configured proportions', () => {
    const t = table(20000);
    const { split } = labelledSplit(t, { label: 'label' }, 7);
    const all = [...split.train, ...split.validation, ...split.holdout].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 20000 }, (_, i) => i));
    expect(withinBinomial(split.holdout.length, 20000, 0.2)).toBe(true);
    expect(withinBinomial(split.validation.length, 20000, 0.2)).toBe(true);
    expect(withinBinomial(split.train.length, 20000, 0.6)).toBe(true);
  });

  test('keeps a rare class (3%) in every part in proportion', () => {
    const t = table(20000);
    const { split, y, classes } = labelledSplit(t, { label: 'label' }, 42);
    const rare = classes.indexOf('1');
    const count = (rows: Int32Array) => Array.from(rows).filter((r) => y[r] === rare).length;
    const total = count(Int32Array.from({ length: t.rows.length }, (_, i) => i));
    expect(total).toBe(600);
    expect(withinBinomial(count(split.holdout), total, 0.2)).toBe(true);
    expect(withinBinomial(count(split.validation), total, 0.2)).toBe(true);
    expect(withinBinomial(count(split.train), total, 0.6)).toBe(true);
    expect(Math.min(count(split.holdout), count(split.validation), count(split.train))).toBeGreaterThan(0);
  });

  test('sends identical rows (a repeated measurement, a re-uploaded file) to the same part', () => {
    const t = table(400);
    const doubled: RawTable = { ...t, rows: [...t.rows, ...t.rows] };
    const { split } = labelledSplit(doubled, { label: 'label' }, 42);
    for (const part of [split.train, split.validation, split.holdout]) {
      const rows = new Set(part);
      for (const r of part) expect(rows.has(r < 400 ? r + 400 : r - 400)).toBe(true);
    }
  });

  test('differs between seeds, and is independent of excluded columns', () => {
    const t = table(2000);
    const a = labelledSplit(t, { label: 'label' }, 42).split.holdout;
    expect(labelledSplit(t, { label: 'label' }, 43).split.holdout).not.toEqual(a);
    // An excluded column (an id) does not make rows distinct, so two rows differing only there are one row.
    const record = splitRecord(['id', 'x', 'label'], ['id'], 42);
    expect(
      tableDigests(
        {
          ...t,
          columns: ['id', 'x', 'label'],
          rows: [
            ['1', '5', 'a'],
            ['2', '5', 'a'],
          ],
        },
        record,
      ),
    ).toEqual([rowDigest(['label', 'x'], ['a', '5']), rowDigest(['label', 'x'], ['a', '5'])]);
  });

  test('treats every missing token alike and trims values, but keeps numbers as written', () => {
    expect(canonicalRow(['a'], ['?'])).toBe(canonicalRow(['a'], ['NA']));
    expect(canonicalRow(['a'], [' x '])).toBe(canonicalRow(['a'], ['x']));
    expect(canonicalRow(['a'], ['5.0'])).not.toBe(canonicalRow(['a'], ['5']));
  });

  test('a split record names its scheme; records agree only on the same scheme, seed, holdout share and columns', () => {
    const record = splitRecord(['x', 'label'], undefined, 42);
    expect(record).toEqual({
      scheme: SPLIT_SCHEME,
      seed: 42,
      fractions: { validation: 0.2, holdout: 0.2 },
      columns: ['label', 'x'],
    });
    expect(sameSplit(record, record)).toBe(true);
    expect(sameSplit({ ...record, seed: 1 }, record)).toBe(false);
    expect(sameSplit({ ...record, fractions: { validation: 0.2, holdout: 0.3 } }, record)).toBe(false);
    expect(sameSplit({ ...record, columns: ['x'] }, record)).toBe(false);
    expect(sameSplit({ seed: 42 }, record)).toBe(false);
    expect(sameSplit(undefined, record)).toBe(false);
  });

  test('splitPart agrees with contentSplit', () => {
    const t = table(500);
    const { split, digests, record } = labelledSplit(t, { label: 'label' }, 3);
    expect(contentSplit(digests, record)).toEqual(split);
    for (const r of split.holdout) expect(splitPart(digests[r], 3)).toBe('holdout');
  });
});
