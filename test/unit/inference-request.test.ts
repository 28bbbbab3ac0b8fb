import { deflateSync, gzipSync } from 'node:zlib';
import { toModelInputs } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import { toPredictions } from '../../lambdas/inference/backends/types';
import { ConfigError, loadConfig } from '../../lambdas/inference/config';
import {
  decodeBody,
  fieldPath,
  instanceValidator,
  parseEnvelope,
  type PredictRequest,
  requestFeatureNames,
  type RequestLimits,
} from '../../lambdas/inference/request';
import type { ApiError, Result } from '../../lambdas/inference/responses';

const LIMITS: RequestLimits = { maxBodyBytes: 4096, maxBatch: 5, maxTextChars: 50 };

const FEATURES: ManifestFeature[] = [
  {
    name: 'petal_width',
    type: 'numeric',
    input: 'petal_width',
    missing: { policy: 'mean', value: 1.2 },
    range: { min: 0.1, max: 2.5 },
  },
  { name: 'Air temperature [K]', type: 'numeric', input: 'air', missing: { policy: 'mean', value: 300 } },
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

const GOOD = { petal_width: 0.4, 'Air temperature [K]': 299.5, Type: 'M', review: 'Great value' };

const without = (name: string) => Object.fromEntries(Object.entries(GOOD).filter(([key]) => key !== name));

function errorOf<T>(result: Result<T>): ApiError {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

function valueOf<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected a value, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** Body text -> envelope -> validated rows, as the app runs them. */
function validate(body: string, features: readonly ManifestFeature[] = FEATURES, limits: RequestLimits = LIMITS) {
  const json = decodeBody(body, false, limits.maxBodyBytes);
  if (!json.ok) return json;
  const request = parseEnvelope(json.value, limits.maxBatch);
  if (!request.ok) return request;
  if (request.value.form === 'columns') throw new Error('row bodies only (columnar ones: inference-columns.test.ts)');
  return instanceValidator(features, limits)(request.value);
}

/** The instances of a row request (single or batch). */
function instancesOf(request: PredictRequest) {
  if (request.form === 'columns') throw new Error('expected a request of instances');
  return request.instances;
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

describe('decodeBody', () => {
  it('returns 400 empty_body when there is no body', () => {
    expect(errorOf(decodeBody(undefined, false, 100))).toMatchObject({ status: 400, code: 'empty_body' });
    expect(errorOf(decodeBody('', false, 100))).toMatchObject({ status: 400, code: 'empty_body' });
  });

  it('returns 400 malformed_json for broken JSON, without echoing more than a snippet', () => {
    const error = errorOf(decodeBody(`{"features": ${'x'.repeat(3000)}`, false, 4096));
    expect(error).toMatchObject({ status: 400, code: 'malformed_json', expected: 'a JSON document' });
    expect(error.message.length).toBeLessThan(300);
  });

  it('decodes base64 bodies and refuses invalid base64 or invalid UTF-8', () => {
    expect(valueOf(decodeBody(b64('{"features":[1]}'), true, 100))).toEqual({ features: [1] });
    expect(errorOf(decodeBody('not base64 at all!', true, 100))).toMatchObject({ status: 400, code: 'invalid_base64' });
    expect(errorOf(decodeBody('abcde', true, 100))).toMatchObject({ status: 400, code: 'invalid_base64' });
    expect(errorOf(decodeBody(b64(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), true, 100))).toMatchObject({
      status: 400,
      code: 'invalid_utf8',
    });
  });

  it('returns 413 when the body exceeds the limit, counting UTF-8 bytes and decoded base64', () => {
    expect(errorOf(decodeBody('1'.repeat(101), false, 100))).toMatchObject({ status: 413, code: 'body_too_large' });
    // 60 characters, 120 bytes
    expect(errorOf(decodeBody(`"${'é'.repeat(59)}"`, false, 100))).toMatchObject({
      status: 413,
      code: 'body_too_large',
    });
    expect(errorOf(decodeBody(b64('1'.repeat(150)), true, 100))).toMatchObject({ status: 413, code: 'body_too_large' });
    expect(valueOf(decodeBody('1'.repeat(100), false, 100))).toBe(Number('1'.repeat(100)));
  });
});

describe('decodeBody: compressed bodies', () => {
  const json = JSON.stringify({ instances: Array.from({ length: 40 }, () => GOOD) });

  it('decompresses gzip (and x-gzip, deflate) bodies, which API Gateway passes base64-encoded', () => {
    expect(valueOf(decodeBody(b64(gzipSync(json)), true, 4096, 'gzip'))).toEqual(JSON.parse(json));
    expect(valueOf(decodeBody(b64(gzipSync(json)), true, 4096, ' GZIP '))).toEqual(JSON.parse(json));
    expect(valueOf(decodeBody(b64(gzipSync(json)), true, 4096, 'x-gzip'))).toEqual(JSON.parse(json));
    expect(valueOf(decodeBody(b64(deflateSync(json)), true, 4096, 'deflate'))).toEqual(JSON.parse(json));
    expect(valueOf(decodeBody(json, false, 4096, 'identity'))).toEqual(JSON.parse(json));
  });

  it('holds the decompressed body to the same limit, and stops inflating a bomb at it: 413', () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(errorOf(decodeBody(b64(bomb), true, 1024 * 1024, 'gzip'))).toMatchObject({
      status: 413,
      code: 'body_too_large',
      message: 'the body decompresses to more than 1048576 bytes; the limit is 1048576',
    });
    expect(errorOf(decodeBody(b64(gzipSync(json)), true, json.length - 1, 'gzip'))).toMatchObject({
      status: 413,
      code: 'body_too_large',
    });
  });

  it('refuses bytes that are not what the Content-Encoding says, and encodings it does not speak, naming the header', () => {
    expect(errorOf(decodeBody(b64(json), true, 4096, 'gzip'))).toMatchObject({
      status: 400,
      code: 'invalid_gzip',
      field: 'content-encoding',
    });
    expect(errorOf(decodeBody(json, false, 4096, 'deflate'))).toMatchObject({
      status: 400,
      code: 'invalid_deflate',
      field: 'content-encoding',
    });
    expect(errorOf(decodeBody(b64(gzipSync(json)), true, 4096, 'br'))).toMatchObject({
      status: 415,
      code: 'unsupported_content_encoding',
      field: 'content-encoding',
    });
    expect(errorOf(decodeBody(b64(gzipSync(json)), true, 4096, 'gzip, gzip'))).toMatchObject({
      status: 415,
      code: 'unsupported_content_encoding',
    });
    expect(
      errorOf(decodeBody(b64(gzipSync(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]))), true, 4096, 'gzip')),
    ).toMatchObject({ status: 400, code: 'invalid_utf8' });
  });
});

describe('parseEnvelope', () => {
  it.each([['"text"'], ['42'], ['null'], ['true']])('returns 400 invalid_body for the non-object JSON %s', (body) => {
    expect(errorOf(validate(body))).toMatchObject({ status: 400, code: 'invalid_body' });
  });

  it('returns 400 invalid_body for an object with neither features nor instances', () => {
    const error = errorOf(validate('{"feature": {}}'));
    expect(error).toMatchObject({ status: 400, code: 'invalid_body' });
    expect(error.message).toContain('"feature"');
  });

  it('accepts the three forms: named single, positional single and batch', () => {
    expect(valueOf(parseEnvelope({ features: { a: 1 } }, 5))).toEqual({
      form: 'single',
      instances: [{ value: { a: 1 }, path: 'features' }],
    });
    expect(valueOf(parseEnvelope([1, 2], 5))).toEqual({ form: 'single', instances: [{ value: [1, 2], path: '' }] });
    expect(valueOf(parseEnvelope({ features: [1, 2] }, 5))).toMatchObject({ instances: [{ path: 'features' }] });
    const batch = valueOf(parseEnvelope({ instances: [{ a: 1 }, [2]] }, 5));
    expect(batch.form).toBe('batch');
    expect(instancesOf(batch).map((i) => i.path)).toEqual(['instances[0]', 'instances[1]']);
  });

  it('returns 413 batch_too_large above the batch limit', () => {
    expect(errorOf(parseEnvelope({ instances: Array.from({ length: 6 }, () => ({})) }, 5))).toMatchObject({
      status: 413,
      code: 'batch_too_large',
      field: 'instances',
    });
    expect(instancesOf(valueOf(parseEnvelope({ instances: Array.from({ length: 5 }, () => ({})) }, 5)))).toHaveLength(
      5,
    );
  });

  it('names the field for envelope errors', () => {
    expect(errorOf(parseEnvelope({ instances: [] }, 5))).toMatchObject({
      status: 400,
      code: 'empty_batch',
      field: 'instances',
    });
    expect(errorOf(parseEnvelope({ instances: 'x' }, 5))).toMatchObject({
      status: 400,
      code: 'invalid_body',
      field: 'instances',
    });
    expect(errorOf(parseEnvelope({ instances: [{}, 7] }, 5))).toMatchObject({
      status: 400,
      code: 'invalid_instance',
      field: 'instances[1]',
    });
    expect(errorOf(parseEnvelope({ features: 'x' }, 5))).toMatchObject({
      status: 400,
      code: 'invalid_instance',
      field: 'features',
    });
    expect(errorOf(parseEnvelope({ features: {}, extra: 1 }, 5))).toMatchObject({
      status: 400,
      code: 'unknown_field',
      field: 'extra',
    });
    expect(errorOf(parseEnvelope({ instances: [{}], features: {} }, 5))).toMatchObject({
      status: 400,
      code: 'unknown_field',
      field: 'features',
    });
  });

  it('lists the feature names of named instances, and none for positional ones', () => {
    expect(requestFeatureNames(valueOf(parseEnvelope({ instances: [{ a: 1 }, { b: 2, a: 3 }] }, 5)))).toEqual([
      'a',
      'b',
    ]);
    expect(requestFeatureNames(valueOf(parseEnvelope({ instances: [{ a: 1 }, [1]] }, 5)))).toBeUndefined();
  });
});

describe('instanceValidator', () => {
  it('turns a valid named instance into a row of every feature', () => {
    const [row] = valueOf(validate(JSON.stringify({ features: GOOD })));
    expect({ ...row }).toEqual(GOOD);
  });

  it('maps positional values in schema order', () => {
    const [row] = valueOf(validate(JSON.stringify([0.4, 299.5, 'M', 'ok'])));
    expect({ ...row }).toEqual({ petal_width: 0.4, 'Air temperature [K]': 299.5, Type: 'M', review: 'ok' });
  });

  it('returns 400 wrong_length for a positional instance with the wrong number of values', () => {
    const error = errorOf(
      validate(
        JSON.stringify({
          instances: [
            [1, 2, 'M', 'x'],
            [1, 2],
          ],
        }),
      ),
    );
    expect(error).toMatchObject({ status: 400, code: 'wrong_length', field: 'instances[1]' });
    expect(error.expected).toContain('petal_width');
  });

  it('names the field and what was expected for a wrong type', () => {
    const instances = [GOOD, GOOD, GOOD, { ...GOOD, petal_width: '0.4' }];
    expect(errorOf(validate(JSON.stringify({ instances })))).toEqual({
      status: 400,
      code: 'invalid_type',
      message: 'instances[3].petal_width must be a finite number; got a string',
      field: 'instances[3].petal_width',
      expected: 'a finite number (or null for a missing value)',
    });
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, Type: true } })))).toMatchObject({
      code: 'invalid_type',
      field: 'features.Type',
    });
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, review: 5 } })))).toMatchObject({
      code: 'invalid_type',
      field: 'features.review',
    });
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, petal_width: [1] } })))).toMatchObject({
      code: 'invalid_type',
      field: 'features.petal_width',
    });
    expect(errorOf(validate(JSON.stringify([0.4, 'hot', 'M', 'ok'])))).toMatchObject({
      code: 'invalid_type',
      field: '[1]',
    });
  });

  it('refuses non-finite numbers: 1e999 parses to Infinity', () => {
    const body = JSON.stringify({ features: { ...GOOD, petal_width: 0 } }).replace(
      '"petal_width":0',
      '"petal_width":1e999',
    );
    expect(errorOf(validate(body))).toMatchObject({
      status: 400,
      code: 'not_finite',
      field: 'features.petal_width',
      expected: expect.stringContaining('a finite number'),
    });
    expect(errorOf(validate(body.replace('1e999', '-1e999')))).toMatchObject({ code: 'not_finite' });
    const request: PredictRequest = {
      form: 'single',
      instances: [{ value: { ...GOOD, petal_width: Number.NaN }, path: 'features' }],
    };
    expect(errorOf(instanceValidator(FEATURES, LIMITS)(request))).toMatchObject({ code: 'not_finite' });
  });

  it('returns 400 unknown_feature and missing_feature naming the field', () => {
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, petal_widht: 1 } })))).toMatchObject({
      status: 400,
      code: 'unknown_feature',
      field: 'features.petal_widht',
      allowed: FEATURES.map((f) => f.name),
    });
    expect(errorOf(validate(JSON.stringify({ instances: [GOOD, without('Type')] })))).toMatchObject({
      status: 400,
      code: 'missing_feature',
      field: 'instances[1].Type',
    });
    expect(errorOf(validate(JSON.stringify({ features: without('Air temperature [K]') })))).toMatchObject({
      code: 'missing_feature',
      field: 'features["Air temperature [K]"]',
    });
  });

  it('takes explicit null as a missing value, imputed per the manifest by toModelInputs', () => {
    const rows = valueOf(
      validate(
        JSON.stringify({ features: { petal_width: null, 'Air temperature [K]': null, Type: null, review: null } }),
      ),
    );
    expect({ ...rows[0] }).toEqual({ petal_width: null, 'Air temperature [K]': null, Type: null, review: null });
    const inputs = toModelInputs(FEATURES, rows);
    // Numeric: NaN, which the graph's Imputer replaces with the training mean.
    expect(Number.isNaN((inputs.petal_width.data as Float32Array)[0])).toBe(true);
    expect(inputs.type.data).toEqual(['L']);
    expect(inputs.review.data).toEqual(['']);
  });

  it('returns 400 unknown_category with the allowed categories, truncated for long lists', () => {
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, Type: 'X' } })))).toMatchObject({
      status: 400,
      code: 'unknown_category',
      field: 'features.Type',
      allowed: ['H', 'L', 'M'],
      expected: 'one of "H", "L", "M" (or null for a missing value)',
    });
    const many: ManifestFeature = {
      name: 'city',
      type: 'categorical',
      input: 'city',
      missing: { policy: 'most_frequent', value: 'c0' },
      categories: Array.from({ length: 200 }, (_, i) => `c${i}`),
    };
    const error = errorOf(validate(JSON.stringify({ features: { city: 'nowhere' } }), [many]));
    expect(error.allowed).toHaveLength(50);
    expect(error.expected).toContain('and 180 more');
    expect(valueOf(validate(JSON.stringify({ features: { city: ' c7 ' } }), [many]))[0].city).toBe('c7');
  });

  it('returns 413 text_too_long naming the text field', () => {
    expect(errorOf(validate(JSON.stringify({ features: { ...GOOD, review: 'x'.repeat(51) } })))).toMatchObject({
      status: 413,
      code: 'text_too_long',
      field: 'features.review',
    });
    expect(valueOf(validate(JSON.stringify({ features: { ...GOOD, review: 'x'.repeat(50) } })))).toHaveLength(1);
  });

  it('treats __proto__ and constructor as unknown features and pollutes nothing', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const body = `{"features": {"${key}": {"polluted": true}, "petal_width": 1, "Air temperature [K]": 1, "Type": "H", "review": ""}}`;
      expect(errorOf(validate(body))).toMatchObject({ status: 400, code: 'unknown_feature', field: `features.${key}` });
    }
    const onlyProto = `{"instances": [{"__proto__": {"petal_width": 1}}]}`;
    expect(errorOf(validate(onlyProto))).toMatchObject({ code: 'unknown_feature', field: 'instances[0].__proto__' });
    // A feature named like an Object.prototype member is a feature like any other.
    const odd: ManifestFeature[] = [
      { name: 'constructor', type: 'numeric', input: 'c', missing: { policy: 'mean', value: 0 } },
    ];
    expect(errorOf(validate('{"features": {}}', odd))).toMatchObject({
      code: 'missing_feature',
      field: 'features.constructor',
    });
    expect(valueOf(validate('{"features": {"constructor": 2}}', odd))[0].constructor).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports the first bad instance of a batch', () => {
    const instances = [GOOD, { ...GOOD, Type: 'Q' }, { ...GOOD, petal_width: 'x' }];
    expect(errorOf(validate(JSON.stringify({ instances })))).toMatchObject({
      code: 'unknown_category',
      field: 'instances[1].Type',
    });
  });
});

describe('fieldPath', () => {
  it('uses dots for identifiers and quoted brackets for other names, truncating long ones', () => {
    expect(fieldPath('instances[3]', 'petal_width')).toBe('instances[3].petal_width');
    expect(fieldPath('', 'a')).toBe('a');
    expect(fieldPath('features', 'Air temperature [K]')).toBe('features["Air temperature [K]"]');
    expect(fieldPath('features', 2)).toBe('features[2]');
    expect(fieldPath('features', 'k'.repeat(5000)).length).toBeLessThan(120);
  });
});

describe('toPredictions', () => {
  it('labels each row with the argmax class, never another output', () => {
    expect(
      toPredictions(
        ['a', 'b', 'c'],
        [
          [0.1, 0.7, 0.2],
          [0.9, 0.05, 0.05],
        ],
      ),
    ).toEqual([
      { label: 'b', probabilities: { a: 0.1, b: 0.7, c: 0.2 } },
      { label: 'a', probabilities: { a: 0.9, b: 0.05, c: 0.05 } },
    ]);
  });

  it('keeps a class named __proto__ as a plain key', () => {
    const [p] = toPredictions(['__proto__', 'x'], [[0.8, 0.2]]);
    expect(p.label).toBe('__proto__');
    expect(JSON.parse(JSON.stringify(p.probabilities))).toEqual(JSON.parse('{"__proto__":0.8,"x":0.2}'));
  });
});

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({ MODEL_BUCKET: 'models' })).toEqual({
      modelBucket: 'models',
      defaultModel: undefined,
      modelTtlMs: 60_000,
      maxBatch: 1000,
      maxBodyBytes: 1024 * 1024,
      maxTextChars: 10_000,
      bundledModelsDir: undefined,
      sagemakerEndpoints: {},
      awsEndpointUrl: undefined,
      dataBucket: undefined,
      captureSettings: {},
      dashboardUrl: undefined,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      MODEL_BUCKET: 'b',
      DEFAULT_MODEL: 'iris',
      MODEL_TTL_SECONDS: '0.05',
      MAX_BATCH: '10',
      MAX_BODY_BYTES: '2048',
      MAX_TEXT_CHARS: '20',
      BUNDLED_MODELS_DIR: '/var/task/bundled-models',
      SAGEMAKER_ENDPOINTS: '{"big":"big-endpoint"}',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4568',
      DATA_BUCKET: 'data',
      CAPTURE_SETTINGS:
        '{"iris":{"enabled":true,"sampleRate":0.5,"retentionDays":7},"*":{"enabled":false,"sampleRate":1,"retentionDays":30}}',
    });
    expect(config).toMatchObject({
      modelTtlMs: 50,
      maxBatch: 10,
      maxBodyBytes: 2048,
      maxTextChars: 20,
      sagemakerEndpoints: { big: 'big-endpoint' },
      awsEndpointUrl: 'http://127.0.0.1:4568',
      dataBucket: 'data',
    });
    expect(config.captureSettings).toEqual({
      iris: { enabled: true, sampleRate: 0.5, retentionDays: 7 },
      '*': { enabled: false, sampleRate: 1, retentionDays: 30 },
    });
  });

  it('fails fast naming every bad variable', () => {
    const attempt = () =>
      loadConfig({
        MAX_BATCH: '0',
        MAX_BODY_BYTES: String(20 * 1024 * 1024),
        SAGEMAKER_ENDPOINTS: '[1]',
        DEFAULT_MODEL: 'Bad Name',
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /MODEL_BUCKET: required.*DEFAULT_MODEL.*MAX_BATCH: must be at least 1.*MAX_BODY_BYTES.*10485760.*SAGEMAKER_ENDPOINTS/,
    );
    expect(() => loadConfig({ MODEL_BUCKET: 'b', MODEL_TTL_SECONDS: 'soon' })).toThrow(/MODEL_TTL_SECONDS.*"soon"/);
    expect(() =>
      loadConfig({ MODEL_BUCKET: 'b', CAPTURE_SETTINGS: '{"iris":{"enabled":true,"sampleRate":2,"retentionDays":7}}' }),
    ).toThrow(/CAPTURE_SETTINGS: must map model names/);
    for (const url of ['javascript:alert(1)', '//evil.example', 'dashboard'])
      expect(() => loadConfig({ MODEL_BUCKET: 'b', DASHBOARD_URL: url })).toThrow(
        /DASHBOARD_URL: must be an http\(s\) URL/,
      );
    expect(loadConfig({ MODEL_BUCKET: 'b', DASHBOARD_URL: '/dashboard' }).dashboardUrl).toBe('/dashboard');
    expect(() => loadConfig({ MODEL_BUCKET: 'b', CAPTURE_SETTINGS: 'iris=on' })).toThrow(
      /CAPTURE_SETTINGS: must be a JSON object/,
    );
  });
});
