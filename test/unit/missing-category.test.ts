import { toModelInputs } from '../../core/features';
import { parseModelSpec } from '../../core/pipeline/model-spec';
import { instanceValidator } from '../../lambdas/inference/request';
import { trainOptions } from '../../lambdas/pipeline/data';
import type { RawTable } from '../../core/data/load';
import { DEFAULT_MISSING_CATEGORY, inferSchema } from '../../core/data/schema';
import { fitCategorical, MISSING_CATEGORY } from '../../training/encoding/categorical';
import { FittedEncoder } from '../../training/encoding/encoder';
import { denseFromCsr } from '../../training/matrix';

function table(columns: string[], rows: string[][]): RawTable {
  return {
    columns,
    rows,
    origin: rows.map((_, i) => ({ file: 0, line: i + 1 })),
    sources: [{ uri: 'file:///t.csv', sha256: '', bytes: 0, rows: rows.length }],
    format: { delimiter: ',', header: true, quoting: true },
  };
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('fitCategorical', () => {
  test("'own' with missing values among the fitting rows: a category of its own, listed last, policy 'category'", () => {
    const f = fitCategorical('colour', 'colour', ['red', '?', 'blue', '', 'red', 'NA', undefined], 'own');
    expect(f.categories).toEqual(['blue', 'red', MISSING_CATEGORY]);
    expect(f.missing).toEqual({ policy: 'category', value: '(missing)' });
  });

  test("'own' with no missing value seen: exactly what 'most-frequent' gives", () => {
    const values = ['red', 'blue', 'red', ' green '];
    const own = fitCategorical('colour', 'colour', values, 'own');
    expect(own).toEqual(fitCategorical('colour', 'colour', values, 'most-frequent'));
    expect(own.categories).toEqual(['blue', 'green', 'red']);
    expect(own.missing).toEqual({ policy: 'most_frequent', value: 'red' });
  });

  test("'most-frequent' imputes the commonest category (ties: the smaller string)", () => {
    const f = fitCategorical('colour', 'colour', ['b', 'a', '?', 'b', 'a'], 'most-frequent');
    expect(f.categories).toEqual(['a', 'b']);
    expect(f.missing).toEqual({ policy: 'most_frequent', value: 'a' });
  });

  test('a real "(missing)" value keeps its meaning: the sentinel becomes "(missing-2)"', () => {
    const f = fitCategorical('c', 'c', ['(missing)', 'x', '?'], 'own');
    expect(f.missing).toEqual({ policy: 'category', value: '(missing-2)' });
    expect(f.categories).toEqual(['(missing)', 'x', '(missing-2)']);
  });

  test('a column of nothing but missing values', () => {
    expect(fitCategorical('c', 'c', ['?', ''], 'own').categories).toEqual([MISSING_CATEGORY]);
    expect(fitCategorical('c', 'c', ['?', ''], 'most-frequent')).toMatchObject({
      categories: [''],
      missing: { policy: 'most_frequent', value: '' },
    });
  });
});

describe('FittedEncoder with missing categories', () => {
  const data = table(
    ['colour', 'size', 'label'],
    [
      ['red', '1', 'a'],
      ['?', '2', 'b'],
      ['blue', '3', 'a'],
      ['', '4', 'b'],
      ['red', '5', 'a'],
    ],
  );

  test(`defaults to '${DEFAULT_MISSING_CATEGORY}' and takes the setting from the schema overrides`, () => {
    expect(DEFAULT_MISSING_CATEGORY).toBe('own');
    const byDefault = FittedEncoder.fit(data, inferSchema(data, { label: 'label' }), all(5));
    expect(byDefault.features[0].missing.policy).toBe('category');
    const schema = inferSchema(data, { label: 'label', missingCategory: 'most-frequent' });
    expect(schema.missingCategory).toBe('most-frequent');
    expect(FittedEncoder.fit(data, schema, all(5)).features[0].missing).toEqual({
      policy: 'most_frequent',
      value: 'red',
    });
    expect(FittedEncoder.fit(data, schema, all(5), { missingCategory: 'own' }).features[0].missing.policy).toBe(
      'category',
    );
  });

  test('missing cells and a null or absent request value one-hot encode as the missing category', () => {
    const encoder = FittedEncoder.fit(data, inferSchema(data, { label: 'label', missingCategory: 'own' }), all(5));
    expect(encoder.features[0].categories).toEqual(['blue', 'red', '(missing)']);
    expect(encoder.columns.filter((c) => c.kind === 'onehot')).toHaveLength(3);
    const fromTable = denseFromCsr(encoder.transform(encoder.tableInputs(data, [1, 3])));
    const fromRequests = denseFromCsr(
      encoder.transform(toModelInputs(encoder.features, [{ colour: null, size: 2 }, { size: 4 }])),
    );
    expect(Array.from(fromRequests.data)).toEqual(Array.from(fromTable.data));
    const width = fromTable.cols;
    const onehot = Array.from(fromTable.data.slice(width - 3, width));
    expect(onehot).toEqual([0, 0, 1]);
  });

  test('the missing category only exists when the fitting rows had a gap; a null is then the commonest category', () => {
    const encoder = FittedEncoder.fit(data, inferSchema(data, { label: 'label', missingCategory: 'own' }), [0, 2, 4]);
    expect(encoder.features[0]).toMatchObject({
      categories: ['blue', 'red'],
      missing: { policy: 'most_frequent', value: 'red' },
    });
    const nullRow = denseFromCsr(encoder.transform(toModelInputs(encoder.features, [{ colour: null, size: 1 }])));
    const redRow = denseFromCsr(encoder.transform(toModelInputs(encoder.features, [{ colour: 'red', size: 1 }])));
    expect(Array.from(nullRow.data)).toEqual(Array.from(redRow.data));
  });
});

describe('null categorical values in a request', () => {
  const encoder = FittedEncoder.fit(
    table(
      ['colour', 'label'],
      [
        ['red', 'a'],
        ['?', 'b'],
        ['blue', 'a'],
      ],
    ),
    { label: 'label', features: [{ name: 'colour', type: 'categorical' }], ignored: [] },
    [0, 1, 2],
  );
  const validate = instanceValidator(encoder.features, { maxBodyBytes: 1e6, maxBatch: 10, maxTextChars: 100 });

  test('are accepted and become the missing category', () => {
    const rows = validate({
      form: 'batch',
      instances: [
        { value: { colour: null }, path: 'instances[0]' },
        { value: [null], path: 'instances[1]' },
      ],
    });
    expect(rows.ok).toBe(true);
    if (!rows.ok) return;
    expect(toModelInputs(encoder.features, rows.value).colour.data).toEqual(['(missing)', '(missing)']);
  });
});

describe('data.missingCategory in a model spec', () => {
  const spec = (data: Record<string, unknown>) =>
    JSON.stringify({
      name: 'm',
      data: { label: 'y', ...data },
      contract: { minRows: 10, onBadRow: 'drop' },
      training: { selectionMetric: 'macroF1' },
      gate: { metric: 'macroF1', margin: 0, floor: 0 },
    });

  test('is optional, passed to training when given', () => {
    expect(trainOptions(parseModelSpec(spec({}), 's.json'), ['lr'], 1)).not.toHaveProperty('missingCategory');
    const parsed = parseModelSpec(spec({ missingCategory: 'most-frequent' }), 's.json');
    expect(trainOptions(parsed, ['lr'], 1).missingCategory).toBe('most-frequent');
  });

  test('must be "own" or "most-frequent"', () => {
    expect(() => parseModelSpec(spec({ missingCategory: 'mode' }), 's.json')).toThrow(
      /data\.missingCategory must be "own" or "most-frequent"/,
    );
  });
});
