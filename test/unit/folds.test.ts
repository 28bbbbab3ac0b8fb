import type { FittedModel, Trainer } from '../../training/algorithms/types';
import type { RawTable } from '../../core/data/load';
import { otherFolds, stratifiedFolds } from '../../training/folds';
import { CV_FOLDS, labelledSplit, trainCandidates } from '../../training/train';

/** `n` distinct rows whose label cycles through `labels` unevenly (a gets most). */
function table(n: number): RawTable {
  const rows = Array.from({ length: n }, (_, i) => [
    String(i),
    String((i * 7919) % 1000),
    i % 7 < 4 ? 'a' : i % 7 < 6 ? 'b' : 'c',
  ]);
  return {
    columns: ['x', 'y', 'label'],
    rows,
    origin: rows.map((_, i) => ({ file: 0, line: i + 1 })),
    sources: [],
    format: { delimiter: ',', header: true, quoting: true },
  };
}

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('stratifiedFolds', () => {
  test('partitions the rows into k folds of ascending indices, each class spread evenly', () => {
    const t = table(203);
    const { y, digests } = labelledSplit(t, { label: 'label' }, 42);
    const folds = stratifiedFolds(all(t.rows.length), y, digests, 5);
    expect(folds).toHaveLength(5);
    const seen = new Set<number>();
    for (const fold of folds) {
      expect(Array.from(fold)).toEqual(Array.from(fold).sort((a, b) => a - b));
      for (const r of fold) seen.add(r);
    }
    expect(seen.size).toBe(t.rows.length);
    for (let c = 0; c < 3; c++) {
      let total = 0;
      for (let r = 0; r < y.length; r++) if (y[r] === c) total++;
      for (const fold of folds) {
        const inFold = Array.from(fold).filter((r) => y[r] === c).length;
        expect([Math.floor(total / 5), Math.ceil(total / 5)]).toContain(inFold);
      }
    }
    // The deal continues across classes, so fold sizes differ by at most one.
    const sizes = folds.map((f) => f.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test('depends on the rows content, not on their order in the file', () => {
    const t = table(150);
    const reversed: RawTable = { ...t, rows: [...t.rows].reverse() };
    const foldsOfDigests = (u: RawTable) => {
      const { y, digests } = labelledSplit(u, { label: 'label' }, 42);
      return stratifiedFolds(all(u.rows.length), y, digests, 5).map((f) => Array.from(f, (r) => digests[r]).sort());
    };
    expect(foldsOfDigests(reversed)).toEqual(foldsOfDigests(t));
  });

  test('keeps identical rows in the same fold', () => {
    const t = table(40);
    const doubled: RawTable = { ...t, rows: [...t.rows, ...t.rows], origin: [...t.origin, ...t.origin] };
    const { y, digests } = labelledSplit(doubled, { label: 'label' }, 42);
    const folds = stratifiedFolds(all(80), y, digests, 5);
    for (const fold of folds) {
      const members = new Set(fold);
      for (const r of fold) expect(members.has(r < 40 ? r + 40 : r - 40)).toBe(true);
    }
  });

  test('otherFolds is every row but the held fold, ascending', () => {
    const folds = [Int32Array.from([0, 5]), Int32Array.from([1, 3]), Int32Array.from([2, 4])];
    expect(Array.from(otherFolds(folds, 1))).toEqual([0, 2, 4, 5]);
    expect(() => stratifiedFolds(all(3), Int32Array.from([0, 0, 0]), ['a', 'b', 'c'], 1)).toThrow(/k >= 2/);
  });
});

describe('k-fold selection in trainCandidates', () => {
  /** A stub that predicts class 0 and records what each fit saw. */
  function recorder(algorithm: 'lr' | 'nb', seen: string[]): Trainer {
    return {
      algorithm,
      supportsText: true,
      grid: () => [{}],
      fit(train, params, context) {
        seen.push(
          `${train.x.rows}:${Array.from(train.y).join('')}|${context.validation ? Array.from(context.validation.y).join('') : 'refit'}:${train.x.values.join(',')}`,
        );
        const model: FittedModel = {
          algorithm,
          params,
          nClasses: train.nClasses,
          predictProba: (x) =>
            Float64Array.from({ length: x.rows * train.nClasses }, (_, i) => (i % train.nClasses === 0 ? 1 : 0)),
          parameterCount: () => 1,
          toOnnx: () => {
            throw new Error('not exported');
          },
        };
        return model;
      },
    };
  }

  test('every algorithm is fitted and scored on the same folds, in one run and across runs', () => {
    const t = table(120);
    const lr: string[] = [];
    const nb: string[] = [];
    const run = trainCandidates(t, {
      label: 'label',
      types: { x: 'numeric', y: 'numeric' },
      trainers: { lr: recorder('lr', lr), nb: recorder('nb', nb) },
      algorithms: ['lr', 'nb'],
    });
    expect(run.selection).toMatchObject({ protocol: 'k-fold', folds: CV_FOLDS });
    expect(lr).toHaveLength(CV_FOLDS + 1);
    expect(nb).toEqual(lr);
    const alone = trainCandidates(t, {
      label: 'label',
      types: { x: 'numeric', y: 'numeric' },
      trainers: { nb: recorder('nb', []) },
      algorithms: ['nb'],
    });
    expect(alone.cvFolds).toEqual(run.cvFolds);
    // The folds partition train + validation; the holdout is in none of them.
    const pool = new Set([...run.split.train, ...run.split.validation]);
    const inFolds = (run.cvFolds ?? []).flatMap((f) => Array.from(f));
    expect(new Set(inFolds)).toEqual(pool);
    expect(inFolds).toHaveLength(pool.size);
  });
});
