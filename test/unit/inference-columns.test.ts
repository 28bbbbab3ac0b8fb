import { batchSize, type FeatureBatch, rowsOf, toModelInputs } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import { toPredictions } from '../../lambdas/inference/backends/types';
import {
  instanceValidator,
  parseEnvelope,
  requestFeatureNames,
  type RequestLimits,
} from '../../lambdas/inference/request';
import type { ApiError, Result } from '../../lambdas/inference/responses';
import { columnarAnswer } from '../../lambdas/inference/routed-predict';

// The columnar batch body: envelope checks, per-column validation, tensors built from columns,
// and the columnar answer. Through the real app and onnxruntime: test/integration/inference-columns.test.ts.

const LIMITS: RequestLimits = { maxBodyBytes: 4096, maxBatch: 3, maxTextChars: 50 };
const FEATURES: ManifestFeature[] = [
  { name: 'width', type: 'numeric', input: 'float_input', missing: { policy: 'mean', value: 1.2 } },
  { name: 'Air temperature [K]', type: 'numeric', input: 'float_input', missing: { policy: 'mean', value: 300 } },
  {
    name: 'Type',
    type: 'categorical',
    input: 'type',
    missing: { policy: 'most_frequent', value: 'L' },
    categories: ['H', 'L', 'M'],
  },
  {
    name: 'review',
    type: 'text',
    input: 'review',
    missing: { policy: 'empty', value: '' },
    tokenizer: { lowercase: true, pattern: '[\\p{L}\\p{N}_]+', ngrams: [1, 2] },
  },
];
const ROWS = [
  { width: 0.4, 'Air temperature [K]': 299.5, Type: 'M', review: 'Great value' },
  { width: null, 'Air temperature [K]': 301, Type: ' H ', review: null },
  { width: 2, 'Air temperature [K]': null, Type: null, review: 'bad' },
];
const COLUMNS = {
  width: [0.4, null, 2],
  'Air temperature [K]': [299.5, 301, null],
  Type: ['M', ' H ', null],
  review: ['Great value', null, 'bad'],
};

const errorOf = <T>(result: Result<T>): ApiError => {
  if (result.ok) throw new Error('expected a refusal');
  return result.error;
};
const valueOf = <T>(result: Result<T>): T => {
  if (!result.ok) throw new Error(`expected a value, got ${JSON.stringify(result.error)}`);
  return result.value;
};
const validate = (body: unknown): Result<FeatureBatch> => {
  const request = parseEnvelope(body, LIMITS.maxBatch);
  return request.ok ? instanceValidator(FEATURES, LIMITS)(request.value) : request;
};

describe('columnar envelope', () => {
  it('reads {"columns": {...}} as a batch of the columns length, named by the column keys', () => {
    const request = valueOf(parseEnvelope({ columns: COLUMNS }, 3));
    expect(request).toMatchObject({ form: 'columns', count: 3 });
    expect(requestFeatureNames(request)).toEqual(Object.keys(COLUMNS));
  });

  it('refuses unequal lengths, non-array columns, empty columns, other fields and too many rows', () => {
    expect(errorOf(parseEnvelope({ columns: { a: [1, 2], b: [1] } }, 3))).toMatchObject({
      status: 400,
      code: 'unequal_columns',
      field: 'columns.b',
    });
    expect(errorOf(parseEnvelope({ columns: { a: { 0: 1 } } }, 3))).toMatchObject({
      code: 'invalid_column',
      field: 'columns.a',
    });
    expect(errorOf(parseEnvelope({ columns: [[1]] }, 3))).toMatchObject({ code: 'invalid_body', field: 'columns' });
    expect(errorOf(parseEnvelope({ columns: {} }, 3))).toMatchObject({ code: 'empty_batch' });
    expect(errorOf(parseEnvelope({ columns: { a: [] } }, 3))).toMatchObject({ code: 'empty_batch' });
    expect(errorOf(parseEnvelope({ columns: { a: [1] }, model: 'x' }, 3))).toMatchObject({
      code: 'unknown_field',
      field: 'model',
    });
    expect(errorOf(parseEnvelope({ columns: { a: [1, 2, 3, 4] } }, 3))).toMatchObject({
      status: 413,
      code: 'batch_too_large',
      field: 'columns.a',
    });
  });
});

describe('columnar validation', () => {
  it('checks every value and names the column and the first bad index', () => {
    expect(errorOf(validate({ columns: { ...COLUMNS, width: [0.4, 'x', true] } }))).toMatchObject({
      status: 400,
      code: 'invalid_type',
      field: 'columns.width[1]',
    });
    expect(errorOf(validate({ columns: { ...COLUMNS, Type: ['M', 'H', 'Q'] } }))).toMatchObject({
      code: 'unknown_category',
      field: 'columns.Type[2]',
    });
    expect(errorOf(validate({ columns: { ...COLUMNS, review: ['ok', 7, null] } }))).toMatchObject({
      code: 'invalid_type',
      field: 'columns.review[1]',
    });
    expect(errorOf(validate({ columns: { ...COLUMNS, review: ['ok', 'x'.repeat(51), null] } }))).toMatchObject({
      status: 413,
      code: 'text_too_long',
      field: 'columns.review[1]',
    });
    const noType: Record<string, unknown> = { ...COLUMNS };
    delete noType.Type;
    expect(errorOf(validate({ columns: noType }))).toMatchObject({ code: 'missing_feature', field: 'columns.Type' });
    // As JSON.parse makes it: an own key "__proto__", plain data, refused as unknown.
    const body = JSON.parse(`{"columns": ${JSON.stringify(COLUMNS).slice(0, -1)}, "__proto__": [1, 2, 3]}}`) as unknown;
    expect(errorOf(validate(body))).toMatchObject({ code: 'unknown_feature', field: 'columns.__proto__' });
  });

  it('builds the same model inputs from columns as from the same rows', () => {
    const fromColumns = valueOf(validate({ columns: COLUMNS }));
    const fromRows = valueOf(validate({ instances: ROWS }));
    expect(batchSize(fromColumns)).toBe(3);
    expect(toModelInputs(FEATURES, fromColumns)).toEqual(toModelInputs(FEATURES, fromRows));
    // Numeric features sharing an input: [N, 2] in manifest order, null -> NaN.
    expect(Array.from(toModelInputs(FEATURES, fromColumns).float_input.data as Float32Array)).toEqual([
      Math.fround(0.4),
      299.5,
      NaN,
      301,
      2,
      NaN,
    ]);
    expect(rowsOf(fromColumns).map((r) => ({ ...r }))).toEqual(rowsOf(fromRows).map((r) => ({ ...r })));
  });
});

describe('columnarAnswer', () => {
  it('gives labels and per-class probability columns equal to the per-row answer', () => {
    const classes = ['a', 'b', 'c'];
    const probabilities = [
      [0.1, 0.7, 0.2],
      [0.5, 0.5, 0],
      [0.2, 0.1, 0.7000004],
    ];
    const answer = columnarAnswer(classes, Float32Array.from(probabilities.flat()), 3);
    const rows = toPredictions(
      classes,
      probabilities.map((r) => Array.from(Float32Array.from(r))),
    );
    expect(answer.labels).toEqual(rows.map((r) => r.label));
    // A tie goes to the first class, as for rows.
    expect(answer.labels[1]).toBe('a');
    for (const c of classes) expect(answer.probabilities[c]).toEqual(rows.map((r) => r.probabilities[c]));
    expect([...answer.perClass]).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
  });
});
