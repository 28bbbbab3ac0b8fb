import { DataError } from '../../core/data/errors';
import { loadTable } from '../../core/data/load';
import { DATASETS, datasetPaths } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

describe('records that span several lines', () => {
  test('are counted per file with the line the first one starts on; rows keep their first line', () => {
    const path = files.write(
      'notes.csv',
      'id,note,label\n1,plain,a\n2,"two\nlines",b\n3,plain,a\n4,"three\nmore\nlines",b\n5,plain,a\n',
    );
    const t = loadTable([path]);
    expect(t.rows).toHaveLength(5);
    expect(t.rows[1][1]).toBe('two\nlines');
    expect(t.multiline).toEqual([{ file: 0, records: 2, lines: 3, firstLine: 3 }]);
    expect(t.origin.map((o) => o.line)).toEqual([2, 3, 5, 6, 9]);
  });

  test('count a CRLF inside a quoted field as one line end, and keep later line numbers right', () => {
    const path = files.write('crlf.csv', 'a,b\r\n1,"x\r\ny"\r\n2,z\r\n3,w\r\n');
    const t = loadTable([path]);
    expect(t.multiline).toEqual([{ file: 0, records: 1, lines: 1, firstLine: 2 }]);
    expect(t.origin.map((o) => o.line)).toEqual([2, 4, 5]);
  });

  test('an unbalanced quote that swallows line ends is reported with its first line, per file', () => {
    const clean = files.write('clean.csv', 'a,b\n1,x\n2,y\n');
    const broken = files.write('broken.csv', 'a,b\n1,x\n2,"y\n3,z\n4,w"\n5,v\n');
    const t = loadTable([clean, broken]);
    expect(t.rows.map((r) => r[0])).toEqual(['1', '2', '1', '2', '5']);
    expect(t.multiline).toEqual([{ file: 1, records: 1, lines: 2, firstLine: 3 }]);
  });

  test('none in the bundled datasets', () => {
    for (const name of Object.keys(DATASETS)) {
      expect(loadTable(datasetPaths(DATASETS[name]), DATASETS[name].load).multiline).toEqual([]);
    }
  });

  test('a merged record with the wrong field count names the lines it spans', () => {
    const path = files.write('ragged.csv', 'a,b,c\n1,x,p\n2,"y\n3,z",q,r\n4,w,s\n');
    expect(() => loadTable([path])).toThrow(
      /line 3 has 4 fields, expected 3 .*spans lines 3-4: a quote there is probably unbalanced/,
    );
  });
});

describe('a quote never closed', () => {
  test('is refused naming the line it opens on and the way out', () => {
    const path = files.write('unclosed.csv', 'a,b\n1,x\n\n2,"y\n3,z\n4,w\n');
    let caught: unknown;
    try {
      loadTable([path]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DataError);
    expect((caught as DataError).message).toMatch(
      /unclosed\.csv: line 4: a quoted field opens here and is never closed.*--quoting off/,
    );
    expect((caught as DataError).details.row).toBe(4);
  });

  test('on the first line too', () => {
    const path = files.write('unclosed-first.csv', '"a,b\n1,x\n');
    expect(() => loadTable([path])).toThrow(/line 1: a quoted field opens here/);
  });
});
