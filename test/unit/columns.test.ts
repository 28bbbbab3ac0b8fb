import { cellRaw, cellText, columnarFromRows, type NumericColumn } from '../../core/data/columns';
import type { RawTable } from '../../core/data/load';
import { inferSchema } from '../../core/data/schema';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { FittedEncoder } from '../../training/encoding/encoder';
import { columnDigests, contentSplit, splitRecord, tableDigests } from '../../training/split';

function table(columns: string[], rows: string[][]): RawTable {
  return {
    columns,
    rows,
    origin: rows.map((_, i) => ({ file: 0, line: i + 2 })),
    sources: [],
    format: { delimiter: ',', header: true, quoting: true },
  };
}

/** Cells whose text is not the number's shortest form, padded cells and every kind of missing token. */
const awkward = table(
  ['n', 'colour', 'note', 'label'],
  [
    ['5.0', 'red', 'good one', 'a'],
    ['5', ' red ', 'Good one', 'b'],
    ['1e3', 'NA', 'NA', 'a'],
    [' +2 ', '?', '', 'b'],
    ['NA', 'blue', 'bad', 'a'],
    ['', 'blue', 'bad bad', 'b'],
    ['?', '', 'meh', 'a'],
    ['-0', 'green', 'ok', 'b'],
    ['0.1', 'red', 'fine', 'a'],
    ['.5', 'red', 'fine', 'b'],
    ['1000', 'red', 'fine', 'a'],
    ['2', 'blue', 'fine', 'b'],
  ],
);

describe('typed columns', () => {
  it('keep numeric cells as float64 and give back the text as written', () => {
    const typed = columnarFromRows(awkward.columns, awkward.rows);
    expect(typed.data[0].kind).toBe('numeric');
    expect(typed.data[1].kind).toBe('dictionary');
    const n = typed.data[0];
    expect(Array.from({ length: typed.rows }, (_, r) => cellText(n, r))).toEqual([
      '5.0',
      '5',
      '1e3',
      '+2',
      '',
      '',
      '',
      '-0',
      '0.1',
      '.5',
      '1000',
      '2',
    ]);
    expect(cellRaw(n, 4)).toBe('NA');
    expect((n as NumericColumn).values[4]).toBeNaN();
    expect(cellText(typed.data[1], 1)).toBe('red');
    expect(cellText(typed.data[1], 2)).toBe('');
    expect(cellRaw(typed.data[2], 2)).toBe('NA');
  });

  it('give every row the same digest, and so the same split part, as its string row', () => {
    for (const t of [awkward, loadDataset(DATASETS.ai4i2020), loadDataset(DATASETS.mushrooms)]) {
      const record = splitRecord(t.columns, [], 7);
      const typed = columnarFromRows(t.columns, t.rows);
      const fromRows = tableDigests(t, record);
      expect(columnDigests(typed, record)).toEqual(fromRows);
      expect(contentSplit(columnDigests(typed, record), record)).toEqual(contentSplit(fromRows, record));
    }
  });

  it('encode to the same matrix as the row path, missing values, unseen categories and text included', () => {
    const cases: [RawTable, Parameters<typeof inferSchema>[1]][] = [
      [awkward, { label: 'label', types: { note: 'text' } }],
      [loadDataset(DATASETS.ai4i2020), trainOptionsFor(DATASETS.ai4i2020)],
      [loadDataset(DATASETS.mushrooms), trainOptionsFor(DATASETS.mushrooms)],
    ];
    for (const [t, overrides] of cases) {
      const schema = inferSchema(t, overrides);
      const typed = columnarFromRows(t.columns, t.rows);
      // Fit on the even rows, encode all: odd rows may hold categories the fit never saw.
      const fitRows = Int32Array.from({ length: Math.ceil(t.rows.length / 2) }, (_, i) => 2 * i);
      const all = Int32Array.from({ length: t.rows.length }, (_, i) => i);
      for (const missingCategory of ['own', 'most-frequent'] as const) {
        const encoder = FittedEncoder.fitColumns(typed, schema, fitRows, { missingCategory });
        for (const f of encoder.features.filter((feature) => feature.type === 'numeric')) {
          const c = t.columns.indexOf(f.name);
          const present = Array.from(fitRows, (r) => t.rows[r][c]).filter((v) => !['', '?', 'NA'].includes(v.trim()));
          const xs = present.map((v) => Math.fround(Number(v)));
          expect(f.missing.value).toBe(Math.fround(xs.reduce((s, v) => s + v, 0) / xs.length));
        }
        expect(encoder.transformColumns(typed, all)).toEqual(encoder.transform(encoder.tableInputs(t, all)));
      }
    }
  });
});
