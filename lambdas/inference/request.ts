import { gunzipSync, inflateSync } from 'node:zlib';
import { z } from 'zod';
import type { ManifestFeature } from '../../core/manifest';
import type { FeatureBatch, FeatureValue } from '../../core/features';
import { type ApiError, fail, listOf, ok, type Result, truncate } from './responses';

/**
 * Prediction requests: body bytes -> JSON -> envelope (zod) -> per-feature checks generated from
 * the model's manifest -> feature rows for core/features' toModelInputs. Pure: no I/O, no ORT.
 *
 * Accepted bodies:
 *   {"features": {"<name>": value, ...}}      one instance by feature name
 *   {"features": [v1, v2, ...]} or [v1, ...]  one instance, values in the manifest's feature order
 *   {"instances": [ {...} | [...], ... ]}     a batch (at most maxBatch instances)
 *   {"columns": {"<name>": [v, ...], ...}}     a batch as columns: every feature's values in row
 *                                              order, all the same length (at most maxBatch)
 * A feature must be present; null means "missing" and is imputed per the manifest's policy.
 */

export interface RequestLimits {
  readonly maxBodyBytes: number;
  readonly maxBatch: number;
  readonly maxTextChars: number;
}

export interface RawInstance {
  readonly value: Readonly<Record<string, unknown>> | readonly unknown[];
  /** Where the instance sits in the body: "features", "instances[3]" or "" (a top-level array). */
  readonly path: string;
}

export type PredictRequest =
  | { readonly form: 'single' | 'batch'; readonly instances: readonly RawInstance[] }
  | {
      readonly form: 'columns';
      /** Each column as sent (own properties of the body's "columns" object); all `count` long. */
      readonly columns: Readonly<Record<string, readonly unknown[]>>;
      readonly count: number;
    };

const EXPECTED_BODY =
  '{"features": {...}}, {"instances": [...]}, {"columns": {"<feature>": [...], ...}}, or an array of feature values in schema order';
const EXPECTED_COLUMNS = 'an object of equally long arrays of feature values, one per feature, by name';
const EXPECTED_INSTANCE = 'an object of feature values by name, or an array of values in schema order';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const badRequest = (
  code: string,
  message: string,
  extra: Omit<ApiError, 'status' | 'code' | 'message'> = {},
): ApiError => ({ status: 400, code, message, ...extra });

/** The request body as JSON, or why it is not: empty, too large, bad base64, bad compression, bad UTF-8, bad JSON. */
export function decodeBody(
  body: string | undefined,
  isBase64Encoded: boolean,
  maxBodyBytes: number,
  contentEncoding?: string,
): Result<unknown> {
  const decoded = decodeBodyText(body, isBase64Encoded, maxBodyBytes, contentEncoding);
  return decoded.ok ? parseBody(decoded.value) : decoded;
}

/** Content-Encoding values a body may arrive in (batch clients often gzip). */
const DECOMPRESSORS: Readonly<Record<string, (bytes: Buffer, options: { maxOutputLength: number }) => Buffer>> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
};

/**
 * The body's text, or why it cannot be read: empty, too large, bad base64, bad compression, bad
 * UTF-8 (data capture keeps the text as sent). A compressed body (Content-Encoding gzip or
 * deflate; API Gateway hands it over base64-encoded) is held to the same limit once decompressed,
 * and decompression stops there: a small body that inflates past the limit (a zip bomb) is a 413
 * after at most maxBodyBytes of output.
 */
export function decodeBodyText(
  body: string | undefined,
  isBase64Encoded: boolean,
  maxBodyBytes: number,
  contentEncoding?: string,
): Result<string> {
  if (body === undefined || body === '')
    return fail(badRequest('empty_body', 'the request has no body', { expected: EXPECTED_BODY }));
  const tooLarge = (bytes: string, what = 'the body is') =>
    fail({
      status: 413,
      code: 'body_too_large',
      message: `${what} ${bytes} bytes; the limit is ${maxBodyBytes}`,
      expected: `at most ${maxBodyBytes} bytes`,
    });
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  const decompress = encoding === '' || encoding === 'identity' ? undefined : DECOMPRESSORS[encoding];
  if (encoding !== '' && encoding !== 'identity' && !decompress) {
    return fail({
      status: 415,
      code: 'unsupported_content_encoding',
      message: `Content-Encoding ${JSON.stringify(truncate(contentEncoding ?? '', 40))} is not supported`,
      field: 'content-encoding',
      expected: 'no Content-Encoding, gzip or deflate',
    });
  }
  let bytes: Buffer | undefined;
  if (isBase64Encoded) {
    const compact = body.replace(/\s+/g, '');
    if (!BASE64.test(compact) || compact.length % 4 === 1) {
      return fail(
        badRequest('invalid_base64', 'the body is flagged base64-encoded but is not valid base64', {
          expected: 'standard base64 (RFC 4648)',
        }),
      );
    }
    const size = Math.floor((compact.length * 3) / 4) - (compact.match(/=+$/)?.[0].length ?? 0);
    if (size > maxBodyBytes) return tooLarge(`about ${size}`);
    bytes = Buffer.from(compact, 'base64');
  } else {
    // Cheap first: a string longer than the limit has at least that many UTF-8 bytes.
    if (body.length > maxBodyBytes) return tooLarge(`at least ${body.length}`);
    const size = Buffer.byteLength(body, 'utf8');
    if (size > maxBodyBytes) return tooLarge(String(size));
    if (!decompress) return ok(body);
    bytes = Buffer.from(body, 'utf8');
  }
  if (decompress) {
    try {
      bytes = decompress(bytes, { maxOutputLength: maxBodyBytes });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        return tooLarge(`more than ${maxBodyBytes}`, `the body decompresses to`);
      return fail(
        badRequest(
          `invalid_${encoding === 'deflate' ? 'deflate' : 'gzip'}`,
          `the body is sent with Content-Encoding ${encoding} but is not valid ${encoding === 'deflate' ? 'deflate (zlib)' : 'gzip'} data`,
          { field: 'content-encoding', expected: `${encoding} data, or no Content-Encoding` },
        ),
      );
    }
  }
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return fail(badRequest('invalid_utf8', 'the body is not valid UTF-8', { expected: 'JSON text encoded as UTF-8' }));
  }
}

/** The body's text as JSON, or a malformed_json refusal. */
export function parseBody(text: string): Result<unknown> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (error) {
    const detail = error instanceof Error ? truncate(error.message, 160) : 'unparseable';
    return fail(badRequest('malformed_json', `the body is not valid JSON: ${detail}`, { expected: 'a JSON document' }));
  }
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? 'a number' : 'a non-finite number';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A path segment for error messages: `a.b`, `a["Air temperature [K]"]`, `a[3]`. */
export function fieldPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key) && key.length <= 100) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(truncate(key))}]`;
}

// zod validates the envelope's shape only; the instances are taken from the parsed JSON itself
// (own properties only), so keys like "__proto__" stay plain data and are refused as unknown.
const instanceSchema = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: EXPECTED_INSTANCE });
const singleSchema = z.strictObject({ features: instanceSchema });
const batchSchemas = new Map<number, z.ZodType>();
function batchSchema(maxBatch: number): z.ZodType {
  let schema = batchSchemas.get(maxBatch);
  if (!schema) {
    schema = z.strictObject({
      instances: z
        .array(instanceSchema, { error: 'an array of instances' })
        .min(1, 'at least one instance')
        .max(maxBatch),
    });
    batchSchemas.set(maxBatch, schema);
  }
  return schema;
}

function envelopeError(issues: readonly z.core.$ZodIssue[], maxBatch: number): ApiError {
  const issue = issues.find((i) => i.code === 'too_big') ?? issues[0];
  const field = issue.path.reduce<string>(
    (base, key) => fieldPath(base, typeof key === 'number' ? key : String(key)),
    '',
  );
  switch (issue.code) {
    case 'too_big':
      return {
        status: 413,
        code: 'batch_too_large',
        message: `a batch holds at most ${maxBatch} instances`,
        field,
        expected: `at most ${maxBatch} instances`,
      };
    case 'too_small':
      return badRequest('empty_batch', 'the batch has no instances', { field, expected: 'at least one instance' });
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? '';
      return badRequest('unknown_field', `unknown field ${JSON.stringify(truncate(key))} in the request body`, {
        field: fieldPath(field, key),
        expected: EXPECTED_BODY,
      });
    }
    case 'invalid_union':
      return badRequest('invalid_instance', `${field} must be ${EXPECTED_INSTANCE}`, {
        field,
        expected: EXPECTED_INSTANCE,
      });
    default:
      return badRequest('invalid_body', `${field || 'the body'} is not valid: ${issue.message}`, {
        field: field || undefined,
        expected: field === 'instances' ? 'an array of instances' : EXPECTED_BODY,
      });
  }
}

/** Which form the body takes, and its instances; no model knowledge needed. */
export function parseEnvelope(json: unknown, maxBatch: number): Result<PredictRequest> {
  if (Array.isArray(json)) return ok({ form: 'single', instances: [{ value: json, path: '' }] });
  if (!isRecord(json))
    return fail(badRequest('invalid_body', `the body is ${describe(json)}`, { expected: EXPECTED_BODY }));
  if (Object.hasOwn(json, 'instances')) {
    const instances = json.instances;
    if (Array.isArray(instances) && instances.length > maxBatch) {
      return fail({
        status: 413,
        code: 'batch_too_large',
        message: `the batch has ${instances.length} instances; the limit is ${maxBatch}`,
        field: 'instances',
        expected: `at most ${maxBatch} instances`,
      });
    }
    // The common, valid body without zod (its per-element union check dominated a batch of 1,000);
    // anything else goes through the schema, whose issues word the refusal.
    const valid =
      Array.isArray(instances) &&
      instances.length > 0 &&
      Object.keys(json).length === 1 &&
      instances.every((v) => typeof v === 'object' && v !== null);
    if (!valid) {
      const parsed = batchSchema(maxBatch).safeParse(json);
      if (!parsed.success) return fail(envelopeError(parsed.error.issues, maxBatch));
    }
    return ok({
      form: 'batch',
      instances: (instances as RawInstance['value'][]).map((value, i) => ({ value, path: `instances[${i}]` })),
    });
  }
  if (Object.hasOwn(json, 'columns')) return parseColumns(json, maxBatch);
  if (Object.hasOwn(json, 'features')) {
    const parsed = singleSchema.safeParse(json);
    if (!parsed.success) return fail(envelopeError(parsed.error.issues, maxBatch));
    return ok({ form: 'single', instances: [{ value: json.features as RawInstance['value'], path: 'features' }] });
  }
  const keys = Object.keys(json);
  const found = keys.length === 0 ? 'an empty object' : `an object with ${listOf(keys, 5)}`;
  return fail(
    badRequest('invalid_body', `the body is ${found}; expected "features" or "instances"`, { expected: EXPECTED_BODY }),
  );
}

/**
 * {"columns": {...}}: checked by hand, not by zod (a column of 1,000 values is the hot path):
 * an object of arrays, all the same length, 1..maxBatch long. The values are checked per model.
 */
function parseColumns(json: Readonly<Record<string, unknown>>, maxBatch: number): Result<PredictRequest> {
  for (const key of Object.keys(json)) {
    if (key !== 'columns')
      return fail(
        badRequest('unknown_field', `unknown field ${JSON.stringify(truncate(key))} in the request body`, {
          field: fieldPath('', key),
          expected: '{"columns": {...}} and nothing else',
        }),
      );
  }
  const columns = json.columns;
  if (!isRecord(columns))
    return fail(
      badRequest('invalid_body', `columns must be ${EXPECTED_COLUMNS}; got ${describe(columns)}`, {
        field: 'columns',
        expected: EXPECTED_COLUMNS,
      }),
    );
  const names = Object.keys(columns);
  if (names.length === 0)
    return fail(badRequest('empty_batch', 'columns has no features', { field: 'columns', expected: EXPECTED_COLUMNS }));
  let count = -1;
  let first = '';
  for (const name of names) {
    const column = columns[name];
    const field = fieldPath('columns', name);
    if (!Array.isArray(column))
      return fail(
        badRequest('invalid_column', `${field} must be an array of values in row order; got ${describe(column)}`, {
          field,
          expected: EXPECTED_COLUMNS,
        }),
      );
    if (column.length > maxBatch)
      return fail({
        status: 413,
        code: 'batch_too_large',
        message: `${field} has ${column.length} values; a batch holds at most ${maxBatch} instances`,
        field,
        expected: `at most ${maxBatch} values per column`,
      });
    if (count === -1) {
      count = column.length;
      first = field;
    } else if (column.length !== count) {
      return fail(
        badRequest('unequal_columns', `${field} has ${column.length} values but ${first} has ${count}`, {
          field,
          expected: 'every column the same length: one value per instance',
        }),
      );
    }
  }
  if (count === 0)
    return fail(
      badRequest('empty_batch', 'the columns hold no values', { field: first, expected: 'at least one instance' }),
    );
  return ok({ form: 'columns', columns: columns as Record<string, readonly unknown[]>, count });
}

/** The feature names a request uses (all named instances together); undefined for positional ones. */
export function requestFeatureNames(request: PredictRequest): string[] | undefined {
  if (request.form === 'columns') return Object.keys(request.columns);
  const names = new Set<string>();
  for (const { value } of request.instances) {
    if (Array.isArray(value)) return undefined;
    for (const key of Object.keys(value)) names.add(key);
  }
  return [...names];
}

type FeatureCheck = (value: unknown, field: string) => Result<string | number | null>;

function featureCheck(feature: ManifestFeature, limits: RequestLimits): FeatureCheck {
  const orMissing = ' (or null for a missing value)';
  if (feature.type === 'numeric') {
    const expected = `a finite number${orMissing}`;
    return (value, field) => {
      if (value === null) return ok(null);
      if (typeof value === 'number' && Number.isFinite(value)) return ok(value);
      const code = typeof value === 'number' ? 'not_finite' : 'invalid_type';
      return fail(badRequest(code, `${field} must be a finite number; got ${describe(value)}`, { field, expected }));
    };
  }
  if (feature.type === 'categorical') {
    const categories = feature.categories ?? [];
    const known = new Set(categories);
    const allowed = categories.slice(0, 50);
    const expected = `one of ${listOf(categories)}${orMissing}`;
    return (value, field) => {
      if (value === null) return ok(null);
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
        return fail(
          badRequest('invalid_type', `${field} must be a category (a string); got ${describe(value)}`, {
            field,
            expected,
            allowed,
          }),
        );
      }
      const category = String(value).trim();
      if (!known.has(category)) {
        return fail(
          badRequest('unknown_category', `${field}: unknown category ${JSON.stringify(truncate(category))}`, {
            field,
            expected,
            allowed,
          }),
        );
      }
      return ok(category);
    };
  }
  const max = limits.maxTextChars;
  const expected = `a string of at most ${max} characters${orMissing}`;
  return (value, field) => {
    if (value === null) return ok(null);
    if (typeof value !== 'string')
      return fail(badRequest('invalid_type', `${field} must be a string; got ${describe(value)}`, { field, expected }));
    if (value.length > max)
      return fail({
        status: 413,
        code: 'text_too_long',
        message: `${field} has ${value.length} characters; the limit is ${max}`,
        field,
        expected,
      });
    return ok(value);
  };
}

type FeatureRow = Readonly<Record<string, FeatureValue>>;
type RowRequest = Extract<PredictRequest, { readonly instances: readonly RawInstance[] }>;

/** Rows for a request of instances; the columns, checked, for a columnar one. */
export interface InstanceValidator {
  (request: RowRequest): Result<FeatureRow[]>;
  (request: PredictRequest): Result<FeatureBatch>;
}

/** The checks for one model, generated from its manifest's features. */
export function instanceValidator(features: readonly ManifestFeature[], limits: RequestLimits): InstanceValidator {
  const checks = new Map<string, FeatureCheck>(features.map((f) => [f.name, featureCheck(f, limits)]));
  const names = features.map((f) => f.name);
  const numeric = features.map((f) => f.type === 'numeric');
  const schemaOrder = `an array of ${names.length} values in schema order: ${listOf(names, 30)}`;

  const fromObject = (value: Readonly<Record<string, unknown>>, path: string): Result<FeatureRow> => {
    for (const key of Object.keys(value)) {
      if (!checks.has(key)) {
        return fail(
          badRequest('unknown_feature', `unknown feature ${JSON.stringify(truncate(key))}`, {
            field: fieldPath(path, key),
            expected: `one of the model's features: ${listOf(names)}`,
            allowed: names.slice(0, 50),
          }),
        );
      }
    }
    const row: Record<string, string | number | null> = Object.create(null) as Record<string, string | number | null>;
    for (let j = 0; j < names.length; j++) {
      const name = names[j];
      if (!Object.hasOwn(value, name)) {
        return fail(
          badRequest(
            'missing_feature',
            `missing feature ${JSON.stringify(truncate(name))} (send null for a missing value)`,
            { field: fieldPath(path, name), expected: 'the feature, or null to impute it' },
          ),
        );
      }
      const v = value[name];
      // A valid numeric value needs no Result and no field path (built only to word a refusal).
      if (numeric[j] && (v === null || (typeof v === 'number' && Number.isFinite(v)))) {
        row[name] = v;
        continue;
      }
      const checked = (checks.get(name) as FeatureCheck)(v, fieldPath(path, name));
      if (!checked.ok) return checked;
      row[name] = checked.value;
    }
    return ok(row);
  };

  const fromArray = (value: readonly unknown[], path: string): Result<FeatureRow> => {
    if (value.length !== names.length) {
      return fail(
        badRequest(
          'wrong_length',
          `${path || 'the body'} has ${value.length} values; the model takes ${names.length}`,
          { field: path || undefined, expected: schemaOrder },
        ),
      );
    }
    const row: Record<string, string | number | null> = Object.create(null) as Record<string, string | number | null>;
    for (let i = 0; i < names.length; i++) {
      const checked = (checks.get(names[i]) as FeatureCheck)(value[i], `${fieldPath(path, i)} (${truncate(names[i])})`);
      if (!checked.ok) return fail({ ...checked.error, field: fieldPath(path, i) });
      row[names[i]] = checked.value;
    }
    return ok(row);
  };

  /**
   * Each column checked as a whole: a numeric or text column whose values pass is used as sent
   * (no copy); a categorical one is copied (values are trimmed). The first bad value is refused
   * with its column and index, e.g. columns.sepal_length[17].
   */
  const fromColumns = (columns: Readonly<Record<string, readonly unknown[]>>, count: number): Result<FeatureBatch> => {
    for (const key of Object.keys(columns)) {
      if (!checks.has(key)) {
        return fail(
          badRequest('unknown_feature', `unknown feature ${JSON.stringify(truncate(key))}`, {
            field: fieldPath('columns', key),
            expected: `one of the model's features: ${listOf(names)}`,
            allowed: names.slice(0, 50),
          }),
        );
      }
    }
    const checked: Record<string, readonly FeatureValue[]> = Object.create(null) as Record<
      string,
      readonly FeatureValue[]
    >;
    for (const feature of features) {
      const name = feature.name;
      const base = fieldPath('columns', name);
      if (!Object.hasOwn(columns, name)) {
        return fail(
          badRequest(
            'missing_feature',
            `missing feature ${JSON.stringify(truncate(name))} (send a column of nulls for missing values)`,
            { field: base, expected: `an array of ${count} values, null where a value is missing` },
          ),
        );
      }
      const column = columns[name];
      const check = checks.get(name) as FeatureCheck;
      if (feature.type === 'numeric') {
        // The common case in one tight loop; the per-value check only words the refusal.
        for (let i = 0; i < count; i++) {
          const v = column[i];
          if (v !== null && !(typeof v === 'number' && Number.isFinite(v))) {
            const refused = check(v, fieldPath(base, i));
            if (!refused.ok) return refused;
          }
        }
        checked[name] = column as readonly FeatureValue[];
      } else {
        const values: FeatureValue[] = new Array<FeatureValue>(count);
        for (let i = 0; i < count; i++) {
          const value = check(column[i], fieldPath(base, i));
          if (!value.ok) return value;
          values[i] = value.value;
        }
        checked[name] = feature.type === 'text' ? (column as readonly FeatureValue[]) : values;
      }
    }
    return ok({ count, columns: checked });
  };

  const fromRows = (request: RowRequest): Result<FeatureRow[]> => {
    const rows: FeatureRow[] = [];
    for (const { value, path } of request.instances) {
      const row = Array.isArray(value)
        ? fromArray(value, path)
        : fromObject(value as Readonly<Record<string, unknown>>, path);
      if (!row.ok) return row;
      rows.push(row.value);
    }
    return ok(rows);
  };

  function validate(request: RowRequest): Result<FeatureRow[]>;
  function validate(request: PredictRequest): Result<FeatureBatch>;
  function validate(request: PredictRequest): Result<FeatureBatch> {
    return request.form === 'columns' ? fromColumns(request.columns, request.count) : fromRows(request);
  }
  return validate;
}
