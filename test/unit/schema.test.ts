import { DataError } from '../../core/data/errors';
import { readLabels } from '../../training/data/labels';
import { loadTable } from '../../core/data/load';
import { inferSchema } from '../../core/data/schema';
import { DATASETS, datasetPaths } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

const load = (name: keyof typeof DATASETS) => loadTable(datasetPaths(DATASETS[name]), DATASETS[name].load);

describe('inferSchema', () => {
  test('finds numeric, categorical and identifier columns (ai4i2020)', () => {
    const schema = inferSchema(load('ai4i2020'), {
      label: 'Machine failure',
      exclude: ['TWF', 'HDF', 'PWF', 'OSF', 'RNF'],
    });
    const types = Object.fromEntries(schema.features.map((f) => [f.name, f.type]));
    expect(types).toEqual({
      Type: 'categorical',
      'Air temperature [K]': 'numeric',
      'Process temperature [K]': 'numeric',
      'Rotational speed [rpm]': 'numeric',
      'Torque [Nm]': 'numeric',
      'Tool wear [min]': 'numeric',
    });
    expect(schema.ignored).toEqual(
      expect.arrayContaining([
        { name: 'UDI', reason: 'identifier (every value distinct)' },
        { name: 'Product ID', reason: 'identifier (every value distinct)' },
        { name: 'TWF', reason: 'excluded' },
      ]),
    );
  });

  test('finds free text (sentiment) and categorical letters with "?" as missing (mushrooms)', () => {
    expect(inferSchema(load('sentiment'), { label: 'label' }).features).toEqual([{ name: 'sentence', type: 'text' }]);
    const mushrooms = inferSchema(load('mushrooms'), { label: 'class' });
    expect(mushrooms.features).toHaveLength(22);
    expect(mushrooms.features.every((f) => f.type === 'categorical')).toBe(true);
  });

  test('lets the user override a type', () => {
    const schema = inferSchema(load('iris'), { label: 'class', types: { sepal_width: 'categorical' } });
    expect(schema.features.find((f) => f.name === 'sepal_width')?.type).toBe('categorical');
  });

  test('fails when the label column is missing, listing the columns and how to name them', () => {
    expect(() => inferSchema(load('iris'), { label: 'species' })).toThrow(
      /label column "species" not found; columns are: sepal_length, sepal_width, petal_length, petal_width, class/,
    );
    const headerless = loadTable(datasetPaths(DATASETS.iris));
    expect(() => inferSchema(headerless, { label: 'class' })).toThrow(/no header row: name the columns with --columns/);
  });

  test('fails on a non-numeric value in a numeric column, naming the line and column', () => {
    const rows = ['x,label', ...Array.from({ length: 40 }, (_, i) => `${i * 1.5},${i % 2 ? 'a' : 'b'}`)];
    rows[18] = 'abc,a';
    const table = loadTable([files.write('typo.csv', rows.join('\n'))]);
    expect(() => inferSchema(table, { label: 'label' })).toThrow(
      /typo\.csv: line 19, column "x": "abc" is not a number/,
    );
    expect(() => inferSchema(table, { label: 'label', types: { x: 'numeric' } })).toThrow(DataError);
  });

  test('fails on an unknown column in the overrides', () => {
    expect(() => inferSchema(load('iris'), { label: 'class', exclude: ['petal'] })).toThrow(/column "petal" not found/);
  });
});

describe('readLabels', () => {
  test('sorts classes (numerically when they are numbers) and indexes rows', () => {
    const { classes, y } = readLabels(load('ai4i2020'), 'Machine failure');
    expect(classes).toEqual(['0', '1']);
    expect(y.reduce((s, v) => s + v, 0)).toBe(339);
  });

  test('fails on a label column with one class', () => {
    const table = loadTable([files.write('one.csv', 'x,label\n1,a\n2,a\n3,a\n')]);
    expect(() => readLabels(table, 'label')).toThrow(
      /the label "label" has only one class \(a\); a classifier needs at least two/,
    );
  });

  test('fails on a missing label, naming the line', () => {
    const table = loadTable([files.write('nolabel.csv', 'x,label\n1,a\n2,\n3,b\n')]);
    expect(() => readLabels(table, 'label')).toThrow(/nolabel\.csv: line 3: the label "label" is missing/);
  });
});
