import { readFileSync } from 'node:fs';
import { csvParseText, splitPlainText } from '../../core/data/load';
import { DATASETS, datasetPaths } from '../../training/datasets/catalog';

const texts: [string, string, boolean][] = [
  ['a,b\n1,2\n3,4\n', ',', true],
  ['a,b\n1,2\n3,4', ',', true],
  ['\uFEFFa,b\r\n1,2\r\n\r\n3,4\r\n', ',', true],
  ['a,b\n\n\n1,2\n  \n\t\n', ',', true],
  ['a;b\n1;2\n1\n,\n;;\n', ';', true],
  ['x\ty\nsaid "hi"\t1\n', '\t', false],
  ['a, b ,c\n 1 , 2,3\n', ',', true],
];

describe('plain-text fast path', () => {
  it.each(texts)('reads %j record for record as csv-parse does', (text, delimiter, quoting) => {
    expect(splitPlainText(text, delimiter, quoting)).toEqual(csvParseText(text, delimiter, quoting, 'f'));
  });

  it('reads the bundled datasets as csv-parse does', () => {
    let compared = 0;
    for (const spec of [DATASETS.ai4i2020, DATASETS.iris, DATASETS.mushrooms, DATASETS.sentiment]) {
      const delimiter = spec.load.delimiter ?? ',';
      const quoting = spec.load.quoting ?? true;
      for (const path of datasetPaths(spec)) {
        const text = readFileSync(path, 'utf8');
        const plain = splitPlainText(text, delimiter, quoting);
        if (!plain) continue;
        expect(plain).toEqual(csvParseText(text, delimiter, quoting, path));
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(4);
  });

  it('leaves quoted fields and lone carriage returns to csv-parse', () => {
    expect(splitPlainText('a,b\n"1,2",3\n', ',', true)).toBeUndefined();
    expect(splitPlainText('a,b\r1,2\r', ',', true)).toBeUndefined();
  });
});
