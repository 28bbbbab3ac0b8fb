import { DataError } from '../../core/data/errors';
import { loadTable } from '../../core/data/load';
import { DATASETS, datasetPaths } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

function expectDataError(fn: () => unknown, message: RegExp): DataError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DataError);
  expect((caught as DataError).message).toMatch(message);
  return caught as DataError;
}

describe('loadTable', () => {
  test('reads a headerless CSV with a trailing blank line (iris) using given column names', () => {
    const t = loadTable(datasetPaths(DATASETS.iris), DATASETS.iris.load);
    expect(t.rows).toHaveLength(150);
    expect(t.columns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'class']);
    expect(t.rows[149]).toEqual(['5.9', '3.0', '5.1', '1.8', 'Iris-virginica']);
  });

  test('strips the UTF-8 BOM, accepts CRLF and detects the header (ai4i2020)', () => {
    const t = loadTable(datasetPaths(DATASETS.ai4i2020));
    expect(t.format.header).toBe(true);
    expect(t.columns[0]).toBe('UDI');
    expect(t.columns).toContain('Machine failure');
    expect(t.rows).toHaveLength(10000);
    expect(t.rows[0][t.columns.length - 1]).toBe('0');
    expect(t.origin[0]).toEqual({ file: 0, line: 2 });
  });

  test('reads tab-separated text with literal quotes, and several files as one table (sentiment)', () => {
    const t = loadTable(datasetPaths(DATASETS.sentiment), DATASETS.sentiment.load);
    expect(t.rows).toHaveLength(3000);
    expect(t.sources.map((s) => s.rows)).toEqual([1000, 1000, 1000]);
    expect(t.rows.some((r) => r[0].includes('"'))).toBe(true);
    expect(new Set(t.rows.map((r) => r[1]))).toEqual(new Set(['0', '1']));
  });

  test('detects a tab delimiter even when sentences are full of commas', () => {
    const t = loadTable([datasetPaths(DATASETS.sentiment)[1]], {});
    expect(t.format).toEqual({ delimiter: '\t', header: false, quoting: false });
    expect(t.rows).toHaveLength(1000);
  });

  test("records each file's sha256 and size for the manifest", () => {
    const [source] = loadTable(datasetPaths(DATASETS.iris), DATASETS.iris.load).sources;
    expect(source.sha256).toBe('6f608b71a7317216319b4d27b4d9bc84e6abd734eda7872b71a458569e2656c0');
    expect(source.bytes).toBe(4551);
    expect(source.uri).toMatch(/^file:\/\/.*iris\.csv$/);
  });

  test('does not take a first data row of words for a header when the words recur (mushrooms)', () => {
    const t = loadTable(datasetPaths(DATASETS.mushrooms));
    expect(t.format.header).toBe(false);
    expect(t.rows).toHaveLength(8124);
  });

  test('fails on an empty file', () => {
    expectDataError(() => loadTable([files.write('empty.csv', '')]), /empty\.csv: the file is empty/);
    expectDataError(() => loadTable([files.write('blank.csv', '\n\r\n  \n')]), /the file is empty/);
  });

  test('fails on a header with no data rows', () => {
    expectDataError(() => loadTable([files.write('header.csv', 'a,b,label\n')]), /header but no data rows/);
  });

  test('fails on ragged rows, naming the line and the expected fields', () => {
    const e = expectDataError(
      () => loadTable([files.write('ragged.csv', 'a,b,label\n1,2,x\n3,y\n4,5,z\n')]),
      /ragged\.csv: line 3 has 2 fields, expected 3 \(a, b, label\)/,
    );
    expect(e.details.row).toBe(3);
  });

  test('fails when files of one layout disagree on the header', () => {
    const a = files.write('a.csv', 'x,label\n1,a\n2,b\n');
    const b = files.write('b.csv', 'y,label\n1,a\n2,b\n');
    expectDataError(() => loadTable([a, b]), /header \(y, label\) differs from the first file's \(x, label\)/);
  });

  test('fails on duplicated column names', () => {
    expectDataError(
      () => loadTable([files.write('dup.csv', '1,2,3\n4,5,6\n')], { columns: ['a', 'a', 'b'] }),
      /duplicated column name\(s\): a/,
    );
  });

  test('fails on a missing file with its path', () => {
    expectDataError(() => loadTable(['/nonexistent/data.csv']), /\/nonexistent\/data\.csv: cannot read file/);
  });
});
