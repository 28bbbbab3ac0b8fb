import fc from 'fast-check';
import { recordPart } from './collector';
import {
  IRIS_CLASSES,
  IRIS_FEATURES,
  irisRow,
  type PlatformProcess,
  postJson,
  startPlatformProcess,
} from './platform-process';

/**
 * Bad input: 10,000 generated request bodies (fast-check, fixed seed) and a corpus of nasty ones,
 * over real HTTP to the platform process. Never a 5xx; every error is JSON with error.code and
 * error.message (and error.field when it is about a feature); nothing pollutes Object.prototype:
 * a valid prediction afterwards still answers as it did before.
 */

const RUNS = Number(process.env.RELIABILITY_BAD_INPUT_RUNS ?? 10_000);
const CONCURRENCY = 16;
const PATHS = ['/models/iris/predict', '/predict'];
/** Codes about one place in the request: the answer must say where (error.field). */
const FIELD_CODES = /^(missing_feature|unknown_feature|not_finite|unknown_category)$/;

interface Probe {
  readonly name: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
}

const key = fc.oneof(
  fc.constantFrom(
    ...IRIS_FEATURES,
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'features',
    'instances',
    'polluted',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
const scalar = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '0x1f',
    ' 5.1 ',
    '',
    '5,1',
    'null',
    '1e-400',
    '9'.repeat(400),
  ),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER, 5e-324, -0),
  fc.string({ maxLength: 30 }),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  fc.array(scalar, { maxLength: 5 }),
  fc.dictionary(key, scalar, { maxKeys: 4 }),
);
/** A row with each feature kept, dropped or replaced, and extra keys sometimes. */
const row = fc
  .record({
    base: fc.nat(1000),
    drop: fc.subarray([...IRIS_FEATURES]),
    replace: fc.dictionary(fc.constantFrom(...IRIS_FEATURES), value, { maxKeys: 2 }),
    extra: fc.dictionary(key, value, { maxKeys: 2 }),
  })
  .map(({ base, drop, replace, extra }) => {
    const out: Record<string, unknown> = { ...irisRow(base), ...replace };
    for (const name of drop) delete out[name];
    return Object.assign(JSON.parse(JSON.stringify(extra)) as object, out);
  });
const nested = fc.nat({ max: 3000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth));
const body: fc.Arbitrary<{ name: string; body: string }> = fc.oneof(
  fc.json().map((b) => ({ name: 'random JSON', body: b })),
  row.map((r) => ({ name: 'row with wrong/missing/extra features', body: JSON.stringify({ features: r }) })),
  fc.dictionary(key, value).map((f) => ({ name: 'random features object', body: JSON.stringify({ features: f }) })),
  fc.array(value, { maxLength: 6 }).map((a) => ({ name: 'array of values', body: JSON.stringify(a) })),
  fc
    .array(fc.oneof(row, fc.array(scalar, { maxLength: 5 }), value), { maxLength: 40 })
    .map((i) => ({ name: 'batch', body: JSON.stringify({ instances: i }) })),
  fc.dictionary(key, value, { maxKeys: 4 }).map((d) => ({ name: 'random envelope', body: JSON.stringify(d) })),
  nested.map((n) => ({ name: 'deep nesting', body: `{"features":${n}}` })),
  fc.string({ maxLength: 200 }).map((s) => ({ name: 'not JSON', body: s })),
  fc.jsonValue().map((v) => ({
    name: 'JSON value with __proto__',
    body: JSON.stringify({ features: v }).replace(/"[^"]*":/, '"__proto__":'),
  })),
);
const generated = fc.record({
  path: fc.constantFrom(...PATHS),
  body,
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/json',
    'text/plain',
    undefined,
    'application/octet-stream',
  ),
});

function corpus(): Probe[] {
  const path = '/models/iris/predict';
  const valid = JSON.stringify({ features: irisRow(3) });
  return [
    {
      name: '10 MB string feature',
      path,
      body: JSON.stringify({ features: { ...irisRow(1), sepal_length: 'x'.repeat(10 * 2 ** 20 - 200) } }),
      contentType: 'application/json',
    },
    {
      name: '11 MB body (over API Gateway 10 MB)',
      path,
      body: JSON.stringify({ features: irisRow(1), pad: 'y'.repeat(11 * 2 ** 20) }),
      contentType: 'application/json',
    },
    {
      name: 'invalid UTF-8 bytes',
      path,
      body: Buffer.from([0x7b, 0x22, 0x66, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
      contentType: 'application/json',
    },
    {
      name: '__proto__ in features',
      path,
      body: '{"features":{"__proto__":{"polluted":1},"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}}',
      contentType: 'application/json',
    },
    {
      name: '__proto__ envelope',
      path,
      body: '{"__proto__":{"polluted":1},"features":{"sepal_length":5.1}}',
      contentType: 'application/json',
    },
    {
      name: 'constructor.prototype',
      path,
      body: '{"features":{"constructor":{"prototype":{"polluted":1}}}}',
      contentType: 'application/json',
    },
    {
      name: 'prototype key in batch',
      path,
      body: '{"instances":[{"prototype":{"polluted":1}},{"__proto__":{"polluted":1}}]}',
      contentType: 'application/json',
    },
    {
      name: '10k levels of nesting',
      path,
      body: `{"features":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
      contentType: 'application/json',
    },
    {
      name: '10k levels of objects',
      path,
      body: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
      contentType: 'application/json',
    },
    { name: 'empty body', path, body: undefined, contentType: 'application/json' },
    { name: 'empty body, no content type', path, body: undefined },
    { name: 'valid JSON as text/plain', path, body: valid, contentType: 'text/plain' },
    { name: 'valid JSON as application/xml', path, body: valid, contentType: 'application/xml' },
    { name: 'valid JSON as multipart/form-data', path, body: valid, contentType: 'multipart/form-data; boundary=x' },
    { name: 'valid JSON as octet-stream', path, body: valid, contentType: 'application/octet-stream' },
    {
      name: 'form-encoded',
      path,
      body: 'sepal_length=5.1&sepal_width=3.5',
      contentType: 'application/x-www-form-urlencoded',
    },
    {
      name: 'batch of 1,001 (over MAX_BATCH)',
      path,
      body: JSON.stringify({ instances: Array.from({ length: 1001 }, (_, i) => irisRow(i)) }),
      contentType: 'application/json',
    },
    {
      name: 'UTF-8 BOM before JSON',
      path,
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]),
      contentType: 'application/json',
    },
    { name: 'NUL bytes', path, body: Buffer.from('{"features":\u0000{}}'), contentType: 'application/json' },
    {
      name: 'unknown model name with dots',
      path: '/models/..%2F..%2Fetc/predict',
      body: valid,
      contentType: 'application/json',
    },
  ];
}

interface Outcome {
  readonly name: string;
  readonly status: number;
  readonly problem?: string;
}

async function send(apiUrl: string, probe: Probe): Promise<Outcome> {
  let status = 0;
  let text: string;
  try {
    const response = await fetch(`${apiUrl}${probe.path}`, {
      method: 'POST',
      headers: probe.contentType ? { 'content-type': probe.contentType } : {},
      body: probe.body,
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    return { name: probe.name, status, problem: `request failed: ${(error as Error).message}` };
  }
  if (status >= 500 || status < 200)
    return { name: probe.name, status, problem: `status ${status}: ${text.slice(0, 300)}` };
  if (status < 400) return { name: probe.name, status };
  let json: { error?: { code?: unknown; message?: unknown; field?: unknown }; message?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return { name: probe.name, status, problem: `error body is not JSON: ${text.slice(0, 200)}` };
  }
  // API Gateway refuses a body over 10 MB itself, with its own {"message"} body: the function never runs.
  if (status === 413 && typeof json.message === 'string' && json.error === undefined)
    return { name: probe.name, status };
  if (typeof json.error?.code !== 'string' || typeof json.error.message !== 'string')
    return { name: probe.name, status, problem: `error without code/message: ${text.slice(0, 200)}` };
  if (FIELD_CODES.test(json.error.code) && typeof json.error.field !== 'string')
    return { name: probe.name, status, problem: `${json.error.code} without error.field: ${text.slice(0, 200)}` };
  if (/\n\s+at /.test(text)) return { name: probe.name, status, problem: 'stack trace in the body' };
  return { name: probe.name, status };
}

async function sendAll(apiUrl: string, probes: readonly Probe[], concurrency: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(probes.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < probes.length) {
        const i = next++;
        outcomes[i] = await send(apiUrl, probes[i]);
      }
    }),
  );
  return outcomes;
}

/** A prediction's answer without its inference ids, which are new on every request by design. */
function answerOf(body: Record<string, unknown>): unknown {
  return (body.predictions as Record<string, unknown>[]).map(({ inferenceId: _id, ...answer }) => answer);
}

function rows(outcomes: readonly Outcome[]) {
  const byName = new Map<string, Outcome[]>();
  for (const o of outcomes) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  return [...byName].map(([name, list]) => {
    const statuses = [...new Set(list.map((o) => o.status))].sort();
    const lost = list.filter((o) => o.problem);
    return {
      case: name,
      tried: list.length,
      survived: list.length - lost.length,
      lost: lost.length,
      notes: `status ${statuses.join('/')}${lost[0] ? `; first loss: ${lost[0].problem}` : ''}`,
    };
  });
}

describe('bad input: generated and nasty request bodies over HTTP', () => {
  let platform: PlatformProcess;
  let before: Record<string, unknown>;

  beforeAll(async () => {
    platform = await startPlatformProcess();
    before = (await postJson(platform.endpoints.apiUrl, '/models/iris/predict', { features: irisRow(7) })).json;
  });

  afterAll(async () => {
    await platform?.stop();
  });

  test(`${RUNS} generated bodies and the nasty corpus: no 5xx, every error JSON with code and message`, async () => {
    const started = performance.now();
    const probes: Probe[] = fc
      .sample(generated, { numRuns: RUNS, seed: 20261123 })
      .map((g) => ({ name: g.body.name, path: g.path, body: g.body.body, contentType: g.contentType }));
    const fuzzed = await sendAll(platform.endpoints.apiUrl, probes, CONCURRENCY);
    const fuzzSeconds = (performance.now() - started) / 1000;
    const nasty = await sendAll(platform.endpoints.apiUrl, corpus(), 2);
    const after = await postJson(platform.endpoints.apiUrl, '/models/iris/predict', { features: irisRow(7) });
    const health = await fetch(`${platform.endpoints.apiUrl}/health`);

    const statusCounts = new Map<number, number>();
    for (const o of [...fuzzed, ...nasty]) statusCounts.set(o.status, (statusCounts.get(o.status) ?? 0) + 1);
    recordPart({
      part: 'Bad input',
      what: `${fuzzed.length} bodies generated by fast-check (seed 20261123; random JSON, wrong types, missing/extra features, huge numbers, NaN-like strings, deep nesting, arrays, batches, odd content types) and a corpus of ${nasty.length} nasty requests, sent over HTTP to the platform process (${CONCURRENCY} at a time). "Survived": a 2xx, or a 4xx whose body is JSON with error.code and error.message (error.field for feature errors); API Gateway's own 413 for bodies over 10 MB counts as survived.`,
      rows: [...rows(fuzzed), ...rows(nasty).map((r) => ({ ...r, case: `corpus: ${r.case}` }))],
      measurements: {
        'generated bodies sent in': `${fuzzSeconds.toFixed(1)} s`,
        'statuses seen': [...statusCounts]
          .sort((a, b) => a[0] - b[0])
          .map(([s, n]) => `${s}: ${n}`)
          .join(', '),
        'valid prediction after the run':
          after.status === 200 && JSON.stringify(answerOf(after.json)) === JSON.stringify(answerOf(before))
            ? 'same answer as before'
            : `CHANGED (${after.status})`,
      },
    });

    const problems = [
      ...new Set([...fuzzed, ...nasty].filter((o) => o.problem).map((o) => `${o.name}: ${o.problem?.slice(0, 160)}`)),
    ];
    expect(problems.slice(0, 20)).toEqual([]);
    expect(health.status).toBe(200);
    expect(after.status).toBe(200);
    expect(answerOf(after.json)).toEqual(answerOf(before));
    expect(IRIS_CLASSES).toContain((after.json.predictions as { label: string }[])[0].label);
    // The test process parsed the same bodies' answers: nothing reached this side either.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
