import type { RawTable } from '../../core/data/load';
import { loadTable } from '../../core/data/load';
import { inferSchema, type SchemaOverrides } from '../../core/data/schema';
import { dataWarnings, droppedRowsWarning, formatWarning } from '../../training/data/warnings';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

function table(columns: string[], rows: string[][], extra: Partial<RawTable> = {}): RawTable {
  return {
    columns,
    rows,
    origin: rows.map((_, i) => ({ file: 0, line: i + 2 })),
    sources: [{ uri: 'file:///data/t.csv', sha256: '', bytes: 0, rows: rows.length }],
    format: { delimiter: ',', header: true, quoting: true },
    ...extra,
  };
}

const warn = (t: RawTable, overrides: SchemaOverrides, algorithms?: readonly string[]) =>
  dataWarnings(t, inferSchema(t, overrides), { algorithms });
const kinds = (t: RawTable, overrides: SchemaOverrides, algorithms?: readonly string[]) =>
  warn(t, overrides, algorithms).map((w) => w.kind);

/** 60 rows, label balanced between a and b, plus whatever columns `make` adds. */
function rows60(make: (i: number) => string[]): string[][] {
  return Array.from({ length: 60 }, (_, i) => [...make(i), i % 2 ? 'a' : 'b']);
}

describe('dataWarnings', () => {
  test('bundled datasets, read as the catalog says, raise nothing', () => {
    for (const name of Object.keys(DATASETS)) {
      const spec = DATASETS[name];
      expect([name, warn(loadDataset(spec), trainOptionsFor(spec))]).toEqual([name, []]);
    }
  });

  describe('a column inferred as text', () => {
    const t = table(
      ['comment', 'size', 'label'],
      rows60((i) => [`this is a rather long comment ${i}`, String(i % 7)]),
    );

    test('names the column and the tree models it switches off', () => {
      const [w] = warn(t, { label: 'label' });
      expect(w).toMatchObject({ kind: 'inferred-text', column: 'comment' });
      expect(w.message).toMatch(/column "comment" was inferred as free text .*switches off gbdt, rf/);
      expect(w.message).toMatch(/--types "comment=categorical"/);
    });

    test('names only the requested algorithms that will be skipped', () => {
      expect(warn(t, { label: 'label' }, ['lr', 'rf'])[0].message).toMatch(/switches off rf \(/);
      expect(warn(t, { label: 'label' }, ['lr', 'nb'])[0].message).not.toMatch(/switches off/);
    });

    test('is silent when the type was declared', () => {
      expect(kinds(t, { label: 'label', types: { comment: 'text' } })).toEqual([]);
    });
  });

  describe('an ID-like categorical column', () => {
    test('many distinct values, more than half the rows (a ticket number)', () => {
      const t = table(
        ['ticket', 'label'],
        rows60((i) => [i % 10 === 0 ? 'PC 17599' : `A/5 ${21171 + i}`]),
      );
      const [w] = warn(t, { label: 'label' });
      expect(w).toMatchObject({ kind: 'high-cardinality', column: 'ticket' });
      expect(w.message).toMatch(
        /"ticket" has 55 distinct values in 60 rows: it looks like an identifier; exclude it \(--exclude "ticket"\)/,
      );
    });

    test('more than 1,000 categories even when each recurs', () => {
      const t = table(
        ['city', 'label'],
        Array.from({ length: 3000 }, (_, i) => [`city ${i % 1001}`, i % 2 ? 'a' : 'b']),
      );
      expect(warn(t, { label: 'label' })[0].message).toMatch(
        /1001 distinct values in 3000 rows: each becomes a one-hot column \(more than 1000\)/,
      );
    });

    test('is silent below the thresholds, when declared, or when excluded', () => {
      const fewCategories = table(
        ['state', 'label'],
        rows60((i) => [`state ${i % 40}`]),
      );
      expect(kinds(fewCategories, { label: 'label' })).toEqual([]);
      const mostlyRepeated = table(
        ['code', 'label'],
        Array.from({ length: 300 }, (_, i) => [`c${i % 120}`, i % 2 ? 'a' : 'b']),
      );
      expect(kinds(mostlyRepeated, { label: 'label' })).toEqual([]);
      const ticket = table(
        ['ticket', 'label'],
        rows60((i) => [i % 10 === 0 ? 'PC 17599' : `A/5 ${21171 + i}`]),
      );
      expect(kinds(ticket, { label: 'label', types: { ticket: 'categorical' } })).toEqual([]);
      expect(() => kinds(ticket, { label: 'label', exclude: ['ticket'] })).toThrow(/no feature columns/);
    });
  });

  describe('records merged by quoting', () => {
    test('names the file, the lines merged and the first line', () => {
      const path = files.write('orders.csv', 'id,item,label\n1,pen,a\n2,"ink\n3,pad\n4,cap",b\n5,pen,a\n6,pad,b\n');
      const t = loadTable([path]);
      const w = warn(t, { label: 'label' }).filter((x) => x.kind === 'multiline-records');
      expect(w).toHaveLength(1);
      expect(w[0].column).toBeUndefined();
      expect(w[0].message).toMatch(
        /orders\.csv: 2 line end\(s\) inside quoted fields merged lines into 1 record\(s\), the first starting at line 3; .*unbalanced/,
      );
    });

    test('is silent for files whose records each sit on one line', () => {
      const path = files.write('plain.csv', 'id,item,label\n1,pen,a\n2,ink,b\n3,pad,a\n4,cap,b\n');
      expect(kinds(loadTable([path]), { label: 'label' })).not.toContain('multiline-records');
    });
  });

  describe('a rare class', () => {
    test('names the class, its row count and the odds of losing it', () => {
      const rows = Array.from({ length: 100 }, (_, i) => [String(i % 3), i < 4 ? 'rare' : i % 2 ? 'a' : 'b']);
      const [w] = warn(table(['x', 'label'], rows), { label: 'label' });
      expect(w).toMatchObject({ kind: 'rare-class', column: 'label' });
      expect(w.message).toMatch(
        /class "rare" of "label" has only 4 row\(s\): it gets no training row with probability 3% and no holdout row with 41%/,
      );
    });

    test('is silent from 10 rows per class', () => {
      const rows = Array.from({ length: 30 }, (_, i) => [String(i % 3), i < 10 ? 'c' : i % 2 ? 'a' : 'b']);
      expect(kinds(table(['x', 'label'], rows), { label: 'label' })).toEqual([]);
    });
  });
});

describe('droppedRowsWarning and formatWarning', () => {
  test('a count of dropped rows, as one line prefixed "warning:"', () => {
    const w = droppedRowsWarning(12, 1000, 'a value is not a number');
    expect(w).toEqual({
      kind: 'dropped-rows',
      message:
        '12 of 1000 rows (1.2%) were dropped by the data contract: a value is not a number; training used the rest',
    });
    expect(formatWarning(w as NonNullable<typeof w>)).toBe(`warning: ${(w as NonNullable<typeof w>).message}`);
    expect(droppedRowsWarning(0, 1000)).toBeUndefined();
  });
});
