import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkDataFile,
  MAX_LISTED_ROWS,
  PROCESSED_LOAD_OPTIONS,
  toCsv,
  type ContractReport,
  type ContractResult,
} from '../../core/pipeline/data-contract';
import { parseModelSpec, type ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { loadTable } from '../../core/data/load';
import { DATASETS, DATASETS_DIR } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

const bundled = new Map(loadModelSpecs(join(__dirname, '..', '..', 'config', 'models')).map((s) => [s.name, s]));
const bundledSpec = (name: string) => bundled.get(name) as ModelSpec;

/** A headered file x (numeric), color (categorical), label (a|b). */
function smallSpec(contract: Record<string, unknown> = {}): ModelSpec {
  return parseModelSpec(
    JSON.stringify({
      name: 'small',
      data: { delimiter: ',', label: 'label', types: { x: 'numeric', color: 'categorical' } },
      contract: { labelValues: ['a', 'b'], minRows: 4, onBadRow: 'drop', maxDroppedFraction: 0.5, ...contract },
      training: { selectionMetric: 'macroF1' },
      gate: { metric: 'macroF1', margin: 0.01, floor: 0.5 },
    }),
    'small.json',
  );
}

const goodRows = (n: number) =>
  Array.from({ length: n }, (_, i) => `${i + 0.5},${i % 3 === 0 ? 'red' : 'blue'},${i % 2 === 0 ? 'a' : 'b'}`);
const csv = (...lines: string[]) => new TextEncoder().encode(lines.join('\n') + '\n');
const check = (bytes: Uint8Array, spec = smallSpec()) =>
  checkDataFile(bytes, 'incoming/small/upload.csv', spec, { now: new Date('2024-05-01T00:00:00Z') });

function expectInvariant(report: ContractReport): void {
  expect(report.rowsIn).toBe(report.rowsOut + report.droppedCount);
  expect(report.dropped.length).toBe(Math.min(report.droppedCount, MAX_LISTED_ROWS));
}

function quarantined(result: ContractResult): ContractReport {
  expect(result.status).toBe('quarantine');
  expectInvariant(result.report);
  expect(result.report.status).toBe('quarantine');
  return result.report;
}

function cleaned(result: ContractResult): { csv: string; report: ContractReport } {
  if (result.status !== 'clean') throw new Error(`expected clean, got ${JSON.stringify(result.report.problems)}`);
  expectInvariant(result.report);
  return { csv: toCsv(result.columns, result.rows), report: result.report };
}

/** Reads a clean copy back the way the next pipeline step will. */
function reread(text: string): { columns: string[]; rows: string[][] } {
  return loadTable([files.write(`clean-${Math.random().toString(36).slice(2)}.csv`, text)], PROCESSED_LOAD_OPTIONS);
}

describe('checkDataFile on the bundled datasets', () => {
  test.each([
    ['iris', 'iris.csv', 150],
    ['ai4i2020', 'ai4i2020.csv', 10000],
    ['sentiment', 'sentiment/yelp_labelled.txt', 1000],
  ])('%s is clean and its copy reads back with the same columns and rows', (name, file, rows) => {
    const dataset = DATASETS[name];
    const path = join(DATASETS_DIR, file);
    const { csv: copy, report } = cleaned(checkDataFile(readFileSync(path), file, bundledSpec(name)));
    expect(report).toMatchObject({ rowsIn: rows, rowsOut: rows, droppedCount: 0, problems: [] });
    const original = loadTable([path], dataset.load);
    const back = reread(copy);
    expect(back.columns).toEqual(original.columns);
    expect(back.rows).toEqual(original.rows);
  });
});

describe('checkDataFile refuses files that cannot be read', () => {
  test.each([
    ['an empty file', new Uint8Array(0)],
    ['a file of blank lines', csv('', '  ', '')],
    ['a header with no data', csv('x,color,label')],
  ])('%s is quarantined as empty_file', (_, bytes) => {
    const report = quarantined(check(bytes));
    expect(report.problems.map((p) => p.kind)).toEqual(['empty_file']);
    expect(report.rowsIn).toBe(0);
  });

  test('binary bytes are quarantined as unparseable', () => {
    const report = quarantined(check(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0xff, 0x10])));
    expect(report.problems).toEqual([
      {
        kind: 'unparseable',
        message: 'incoming/small/upload.csv: the file is binary (it contains NUL bytes), not delimited text',
      },
    ]);
  });

  test('text that is not UTF-8 is quarantined as unparseable', () => {
    const report = quarantined(check(Uint8Array.from([0x78, 0x2c, 0xe9, 0x74, 0xe9, 0x0a])));
    expect(report.problems[0]).toMatchObject({ kind: 'unparseable', message: expect.stringMatching(/not UTF-8/) });
  });

  test('a semicolon file for a comma contract is quarantined with the line, naming the upload not a scratch path', () => {
    const bytes = csv('5.1;3.5;1.4;0.2;Iris-setosa', '4.9;3.0;1.4;0.2;Iris-setosa');
    const report = quarantined(checkDataFile(bytes, 'incoming/iris/x.csv', bundledSpec('iris')));
    expect(report.problems).toEqual([
      {
        kind: 'unparseable',
        line: 1,
        message: expect.stringMatching(/^incoming\/iris\/x\.csv: line 1 has 1 fields, expected 5/),
      },
    ]);
  });

  test('ragged rows are quarantined with the line', () => {
    const report = quarantined(check(csv('x,color,label', ...goodRows(3), '1.0,red', ...goodRows(3))));
    expect(report.problems).toEqual([
      { kind: 'unparseable', line: 5, message: expect.stringMatching(/line 5 has 2 fields, expected 3/) },
    ]);
  });

  test('a header naming a column twice is quarantined', () => {
    const report = quarantined(check(csv('x,label,label', ...goodRows(5))));
    expect(report.problems).toEqual([{ kind: 'unparseable', message: 'duplicated column name(s): label' }]);
    expect(report.rowsIn).toBe(0);
  });

  test('a missing label column is quarantined as missing_column', () => {
    const report = quarantined(check(csv('x,color,target', ...goodRows(5))));
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'missing_column', column: 'label' })]);
    expect(report.problems[0].message).toMatch(/column "label" is missing; the file has x, color, target$/);
  });

  test('a headerless upload for a headered contract says so', () => {
    const report = quarantined(check(csv(...goodRows(5))));
    expect(report.problems.map((p) => p.column)).toEqual(['label', 'x', 'color']);
    expect(report.problems[0].message).toMatch(/the first line looks like data; the contract expects a header row/);
  });
});

describe('checkDataFile row checks', () => {
  test('a UTF-8 BOM and CRLF line ends are accepted', () => {
    const text = '\uFEFF' + ['x,color,label', ...goodRows(6)].join('\r\n') + '\r\n';
    const { csv: copy, report } = cleaned(check(new TextEncoder().encode(text)));
    expect(report.rowsOut).toBe(6);
    expect(copy.startsWith('x,color,label\n')).toBe(true);
  });

  test('drops rows with a bad value, a missing label or an unknown label, listing each line', () => {
    const bytes = csv('x,color,label', ...goodRows(4), 'abc,red,a', '1.5,red,', '2.5,blue,c', ...goodRows(4));
    const { csv: copy, report } = cleaned(check(bytes));
    expect(report).toMatchObject({ rowsIn: 11, rowsOut: 8, droppedCount: 3, checkedAt: '2024-05-01T00:00:00.000Z' });
    expect(report.dropped).toEqual([
      {
        line: 6,
        column: 'x',
        value: 'abc',
        fault: 'bad_value',
        reason: '"abc" is not a number (the column is numeric)',
      },
      { line: 7, column: 'label', value: '', fault: 'missing_label', reason: 'the label "label" is missing' },
      {
        line: 8,
        column: 'label',
        value: 'c',
        fault: 'unknown_label',
        reason: '"c" is not one of the label values (a, b)',
      },
    ]);
    expect(reread(copy).rows).toHaveLength(8);
  });

  test('missing feature values are kept (training imputes them)', () => {
    const { report } = cleaned(check(csv('x,color,label', ...goodRows(6), ',?,a')));
    expect(report.rowsOut).toBe(7);
  });

  test('a header repeated inside the data is dropped as repeated_header', () => {
    const { report } = cleaned(check(csv('x,color,label', ...goodRows(4), 'x,color,label', ...goodRows(4))));
    expect(report.dropped).toEqual([expect.objectContaining({ line: 6, fault: 'repeated_header' })]);
  });

  test('with onBadRow "quarantine" a bad value fails the whole file, naming line and column', () => {
    const report = quarantined(
      check(csv('x,color,label', ...goodRows(4), 'abc,red,a', ...goodRows(4)), smallSpec({ onBadRow: 'quarantine' })),
    );
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'bad_value', line: 6, column: 'x' })]);
    expect(report).toMatchObject({ rowsIn: 9, rowsOut: 8, droppedCount: 1 });
  });

  test('with onBadRow "quarantine" an unknown label is reported as unknown_label', () => {
    const report = quarantined(
      check(csv('x,color,label', ...goodRows(4), '1.0,red,z'), smallSpec({ onBadRow: 'quarantine' })),
    );
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'unknown_label', line: 6, column: 'label' })]);
  });

  test('too many dropped rows quarantine the file', () => {
    const report = quarantined(
      check(csv('x,color,label', ...goodRows(4), ...Array.from({ length: 6 }, () => 'abc,red,a'))),
    );
    expect(report.problems.map((p) => p.kind)).toEqual(['too_many_dropped']);
    expect(report.problems[0].message).toBe('6 of 10 rows (60.0%) were rejected, more than the allowed 50.0%');
  });

  test('the list of rejected rows is capped, the count is not', () => {
    const bad = Array.from({ length: 150 }, () => 'abc,red,a');
    const { report } = cleaned(
      check(csv('x,color,label', ...goodRows(10), ...bad), smallSpec({ maxDroppedFraction: 1 })),
    );
    expect(report.dropped).toHaveLength(MAX_LISTED_ROWS);
    expect(report.droppedCount).toBe(150);
    expect(report.rowsOut).toBe(10);
  });
});

describe('checkDataFile whole-file checks', () => {
  test('too few rows', () => {
    const report = quarantined(check(csv('x,color,label', ...goodRows(3))));
    expect(report.problems).toEqual([
      { kind: 'too_few_rows', message: '3 usable row(s), the contract needs at least 4' },
    ]);
  });

  test('a single class', () => {
    const report = quarantined(check(csv('x,color,label', '1,red,a', '2,red,a', '3,blue,a', '4,blue,a')));
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'single_class', column: 'label' })]);
  });

  test('a column with too many missing values', () => {
    const rows = goodRows(6).map((r, i) => (i < 4 ? r.replace(/,(red|blue),/, ',NA,') : r));
    const report = quarantined(check(csv('x,color,label', ...rows)));
    expect(report.problems).toEqual([
      {
        kind: 'too_many_missing',
        column: 'color',
        message: 'column "color" is 66.7% missing, more than the allowed 50.0%',
      },
    ]);
  });

  test('the report is plain JSON and summarises the contract', () => {
    const { report } = cleaned(check(csv('x,color,label', ...goodRows(5))));
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(report.contract).toEqual({
      label: 'label',
      requiredColumns: ['label', 'x', 'color'],
      numericColumns: ['x'],
      labelValues: ['a', 'b'],
      minRows: 4,
      maxMissingFraction: 0.5,
      onBadRow: 'drop',
      maxDroppedFraction: 0.5,
    });
  });
});

describe('the clean copy', () => {
  test('quotes fields with commas and quotes (literal in a tab file) so they read back unchanged', () => {
    const spec = parseModelSpec(
      JSON.stringify({
        name: 'text',
        data: {
          columns: ['sentence', 'label'],
          delimiter: '\t',
          quoting: false,
          label: 'label',
          types: { sentence: 'text' },
        },
        contract: { minRows: 2, onBadRow: 'drop' },
        training: { selectionMetric: 'macroF1' },
        gate: { metric: 'macroF1', margin: 0, floor: 0 },
      }),
      'text.json',
    );
    const { csv: copy } = cleaned(check(csv('He said "great", twice\t1', 'plain text here\t0'), spec));
    expect(copy).toBe('sentence,label\n"He said ""great"", twice",1\nplain text here,0\n');
    expect(reread(copy).rows).toEqual([
      ['He said "great", twice', '1'],
      ['plain text here', '0'],
    ]);
  });

  test('quotes line breaks, keeping the header and column order', () => {
    const copy = toCsv(
      ['b', 'a'],
      [
        ['two\nlines', 'x'],
        ['', 'y'],
      ],
    );
    expect(copy).toBe('b,a\n"two\nlines",x\n,y\n');
    expect(reread(copy)).toMatchObject({
      columns: ['b', 'a'],
      rows: [
        ['two\nlines', 'x'],
        ['', 'y'],
      ],
    });
  });
});
