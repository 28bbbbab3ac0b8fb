import { isShortestNumberText, numberTextKind } from '../../core/data/column-builder';
import { cellWritten, type NumericColumn, type TypedTable, typedFromRaw } from '../../core/data/columns';
import { DataError } from '../../core/data/errors';
import { loadTable, looksNumeric, type LoadOptions } from '../../core/data/load';
import { loadColumns } from '../../core/data/load-columns';
import { isMissing } from '../../core/data/schema';
import { DATASETS, datasetPaths } from '../../training/datasets/catalog';
import {
  contentSplit,
  type SplitRecord,
  splitRecord,
  tableDigests,
  typedDigests,
  typedSplitKeys,
} from '../../training/split';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

/** Texts loadTable reads in every way it can: padded and awkward numbers, missing tokens, CRLF, BOM, quotes, lone CRs. */
const texts: [string, string, LoadOptions][] = [
  [
    'plain.csv',
    'n,colour,label\n5.0,red,a\n5, red ,b\n1e3,NA,a\n +2 ,?,b\nNA,blue,a\n,blue,b\n?,,a\n-0,green,b\n300.10,red,a\n.5,red,b\n',
    {},
  ],
  ['crlf.csv', '\uFEFFx,y,label\r\n1,2,a\r\n\r\n3,4,b\r\n', {}],
  ['quoted.csv', 'id,note,label\n1,"a, b",x\n2,"two\nlines",y\n3," 7 ",x\n', {}],
  ['lonecr.csv', 'a,b\r1,2\r3,4\r', {}],
  // Numbers first, then a word: the column turns into a dictionary of the cells as written.
  ['turns.csv', 'v,label\n1,a\n2.50,b\n 3 ,a\n5.000,b\nword,b\n1e21,a\n', {}],
  // Zeros after the shortest form, kept as a count where String(x) is the rest.
  [
    'zeros.csv',
    'v,w,label\n300.10,0.0,a\n-0.0,5.,b\n1.50,0.000,a\n12345678901234567.0,7.0000,b\n0.0000001000,-2.50,a\n',
    {},
  ],
  ['headless.csv', '1,2,a\n3,4,b\n', { columns: ['x', 'y', 'label'] }],
  ['tabs.tsv', 'text\tlabel\nsaid "hi"\t1\n12\t0\n', {}],
];

function expectSameTable(paths: string[], options: LoadOptions): void {
  const raw = loadTable(paths, options);
  const typed = loadColumns(paths, { ...options, digestExclude: [] });
  const { splitKeys, ...rest } = typed;
  expect(rest).toEqual(typedFromRaw(raw));
  // Every cell reads back exactly as the file wrote it.
  const cells = raw.rows.map((_, r) => raw.columns.map((__, c) => cellWritten(typed.data[c], r)));
  expect(cells).toEqual(raw.rows);
  const record = splitRecord(raw.columns, [], 42);
  expect(splitKeys?.columns).toEqual(record.columns);
  expectKeysOf(typed, record, tableDigests(raw, record));
}

/** The table's split keys are the first 8 bytes of each row's digest, and split the rows alike. */
function expectKeysOf(typed: TypedTable, record: SplitRecord, digests: string[]): void {
  const keys = typedSplitKeys(typed, record);
  expect(keys.width).toBe(8);
  expect(Buffer.from(keys.bytes).toString('hex')).toBe(digests.map((d) => d.slice(0, 16)).join(''));
  expect(contentSplit(keys, record)).toEqual(contentSplit(digests, record));
  expect(typedDigests(typed, record).all()).toEqual(digests);
}

describe('loadColumns', () => {
  it.each(texts)('reads %s as loadTable does, cell for cell, line for line', (name, text, options) => {
    expectSameTable([files.write(name, text)], options);
  });

  it('reads the bundled datasets, several files at once included, as loadTable does', () => {
    for (const spec of [DATASETS.ai4i2020, DATASETS.iris, DATASETS.mushrooms, DATASETS.sentiment])
      expectSameTable(datasetPaths(spec), spec.load);
  });

  it('reads several files into one table, each row keeping its file and line', () => {
    const a = files.write('part-a.csv', 'x,label\n1,a\n\n2,b\n');
    const b = files.write('part-b.csv', 'x,label\n3.0,a\nNA,b\nfour,a\n');
    expectSameTable([a, b], {});
    expect(Array.from(loadColumns([a, b]).origin.line)).toEqual([2, 4, 2, 3, 4]);
    expect(Array.from(loadColumns([a, b]).origin.file)).toEqual([0, 0, 1, 1, 1]);
  });

  it('hashes the content columns it is told to (all but the excluded), as the split would', () => {
    const path = files.write('ids.csv', 'id,x,label\n1,5.0,a\n2,5,b\n3, 5 ,a\n');
    const typed = loadColumns([path], { digestExclude: ['id'] });
    const record = splitRecord(typed.columns, ['id'], 7);
    expect(typed.splitKeys?.columns).toEqual(['label', 'x']);
    expectKeysOf(typed, record, tableDigests(loadTable([path]), record));
    // Keys over other columns than the split's are not used: the digests come from the columns.
    const all = splitRecord(typed.columns, [], 7);
    expect(typedSplitKeys(typed, all).all()).toEqual(tableDigests(loadTable([path]), all));
  });

  it("keeps zeros after a number's shortest form as a count, not as a string per cell", () => {
    const path = files.write(
      'zeros-only.csv',
      'v,w,label\n300.10,0.0,a\n-0.0,5.,b\n1.50,0.000,a\n0.0000001000,7.0000,b\n',
    );
    const [v, w] = loadColumns([path]).data as NumericColumn[];
    expect([...v.written.values()]).toEqual(['-0.0', '0.0000001000']); // String(x) is not the rest
    expect([...w.written.values()]).toEqual(['5.']);
    expect(Array.from(v.zeros ?? [])).toEqual([1, 0, 1, 0]);
    expect(Array.from(w.zeros ?? [])).toEqual([128 + 1, 0, 128 + 3, 128 + 4]);
  });

  it("fails with loadTable's message, file and line", () => {
    const cases = [
      files.write('empty.csv', '\n\r\n  \n'),
      files.write('header-only.csv', 'a,b,label\n'),
      files.write('ragged.csv', 'a,b,label\n1,2,x\n3,y\n4,5,z\n'),
      files.write('unclosed.csv', 'a,b\n1,"x\n2,y\n'),
      files.write('ragged-quoted.csv', 'a,b\n1,"x\ny",3\n'),
    ];
    for (const path of cases) {
      const expected = captured(() => loadTable([path]));
      expect(expected).toBeInstanceOf(DataError);
      expect(captured(() => loadColumns([path]))).toEqual(expected);
      expect((captured(() => loadColumns([path])) as DataError).details).toEqual((expected as DataError).details);
    }
    const a = files.write('a.csv', 'x,label\n1,a\n2,b\n');
    const b = files.write('b.csv', 'y,label\n1,a\n2,b\n');
    expect(captured(() => loadColumns([a, b]))).toEqual(captured(() => loadTable([a, b])));
    const dup = files.write('dup.csv', '1,2,3\n4,5,6\n');
    const options = { columns: ['a', 'a', 'b'] };
    expect(captured(() => loadColumns([dup], options))).toEqual(captured(() => loadTable([dup], options)));
  });
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('number texts', () => {
  it('isShortestNumberText is never true for a text String(Number(text)) does not give back', () => {
    let random = 12345;
    const next = (k: number) => {
      random = (Math.imul(random, 1103515245) + 12345) >>> 0;
      return random % k;
    };
    let accepted = 0;
    const wrong: string[] = [];
    for (let t = 0; t < 60000; t++) {
      let s = next(4) === 0 ? '-' : '';
      const whole = next(19);
      for (let i = 0; i < whole; i++) s += String(next(10));
      if (next(2)) {
        s += '.';
        const fraction = next(19);
        for (let i = 0; i < fraction; i++) s += next(3) === 0 ? '0' : String(next(10));
      }
      if (!isShortestNumberText(s)) continue;
      accepted++;
      if (String(Number(s)) !== s) wrong.push(s);
    }
    expect(wrong).toEqual([]);
    expect(accepted).toBeGreaterThan(15000);
    for (const s of ['0', '0.5', '-0.5', '0.000001', '123456789012345', '300.71'])
      expect(isShortestNumberText(s)).toBe(true);
    for (const s of ['-0', '05', '.5', '5.', '1.50', '0.0000001', '1234567890123456', '1e3', '+2', ' 5', 'NaN'])
      expect(isShortestNumberText(s)).toBe(false);
  });

  it('numberTextKind 2 is a number whose text differs from its shortest form', () => {
    for (const s of ['300.10', '5.0', '-0.0', '007.50']) {
      expect(numberTextKind(s)).toBe(2);
      expect(looksNumeric(s) && !isMissing(s) && String(Number(s)) !== s).toBe(true);
    }
    for (const s of ['5.', 'NA', ' 5.0', '1e3']) expect(numberTextKind(s)).toBe(0);
  });
});
