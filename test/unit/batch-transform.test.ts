import { planChunks, readChunkLines } from '../../core/batch/chunks';
import { batchJobId, modelOfBatchKey } from '../../core/batch/keys';
import { BadBatchInputError, detectLayout } from '../../core/batch/layout';
import { type BatchJob, buildReport, type ChunkSummary } from '../../core/batch/report';
import { formatProbability, scoreChunk } from '../../lambdas/batch/score';
import type { InputTensor } from '../../core/features';
import type { ManifestFeature } from '../../core/manifest';
import type { FeatureRow } from '../../lambdas/inference/backends/types';
import { instanceValidator } from '../../lambdas/inference/request';

const features: ManifestFeature[] = [
  {
    name: 'Type',
    type: 'categorical',
    input: 'Type',
    categories: ['L', 'M', 'H'],
    missing: { policy: 'most_frequent', value: 'L' },
  },
  { name: 'Torque [Nm]', type: 'numeric', input: 'num', missing: { policy: 'mean', value: 40 } },
  { name: 'speed', type: 'numeric', input: 'num', missing: { policy: 'mean', value: 1500 } },
];
const validate = instanceValidator(features, { maxBatch: 1e9, maxBodyBytes: 1e9, maxTextChars: 100 });
/** A stand-in model whose answer depends on the row, so a row scored out of order would show. */
const predict = async (rows: readonly FeatureRow[]) =>
  rows.map((r) => {
    const p = Math.min(1, Math.max(0, Number(r['Torque [Nm]'] ?? 40) / 100));
    return [1 - p, p];
  });
const classes = ['0', '1'];
/** The same stand-in fed tensors, as the CSV hot path feeds onnxruntime: 'num' is [Torque, speed]. */
const predictInputs = async (inputs: Record<string, InputTensor>, n: number) => {
  const num = inputs.num.data as Float32Array;
  const out = new Float32Array(n * 2);
  for (let r = 0; r < n; r++) {
    const torque = Number.isNaN(num[r * 2]) ? 40 : num[r * 2];
    const p = Math.min(1, Math.max(0, torque / 100));
    out[r * 2] = 1 - p;
    out[r * 2 + 1] = p;
  }
  return out;
};

const bytesReader = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  return { size: bytes.length, read: async (s: number, e: number) => bytes.subarray(s, e) };
};

describe('batch file layout', () => {
  test('a header in any order with extra columns maps each feature to its column', () => {
    const layout = detectLayout('batch/m/a.csv', '\uFEFFid,speed,Type,Torque [Nm],label\n1,1500,L,40,0\n', features);
    expect(layout).toMatchObject({ format: 'csv', header: true, featureColumns: [2, 3, 1] });
  });

  test('a headerless CSV must be the features in manifest order', () => {
    expect(detectLayout('batch/m/a.csv', 'L,40,1500\n', features)).toMatchObject({
      header: false,
      featureColumns: [0, 1, 2],
    });
  });

  test.each([
    ['empty_file', 'batch/m/a.csv', '\n\n  \n'],
    ['unparseable', 'batch/m/a.jsonl', 'not json\n'],
    ['unparseable', 'batch/m/a.csv', 'a,\u0000b\n'],
    ['wrong_columns', 'batch/m/a.csv', 'Type,Torque [Nm],rpm\nL,40,1500\n'],
    ['wrong_columns', 'batch/m/a.csv', 'x,y\n1,2\n'],
    ['wrong_columns', 'batch/m/a.jsonl', '{"a":1}\n'],
  ])('refuses the whole file as %s (%s)', (code, key, head) => {
    let thrown: unknown;
    try {
      detectLayout(key, head, features);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BadBatchInputError);
    expect((thrown as BadBatchInputError).code).toBe(code);
  });

  test('wrong columns names the missing feature', () => {
    expect(() => detectLayout('batch/m/a.csv', 'Type,Torque [Nm],rpm\n', features)).toThrow(/lacks "speed"/);
  });
});

describe('batch keys', () => {
  test('the same object version is the same job; another ETag is another job', () => {
    const a = batchJobId({ bucket: 'b', key: 'batch/m/f.csv', etag: '"abc"' });
    expect(batchJobId({ bucket: 'b', key: 'batch/m/f.csv', etag: 'abc' })).toBe(a);
    expect(batchJobId({ bucket: 'b', key: 'batch/m/f.csv', etag: 'abd' })).not.toBe(a);
    expect(modelOfBatchKey('batch/m/f.csv')).toBe('m');
    expect(modelOfBatchKey('batch/m/')).toBeUndefined();
    expect(modelOfBatchKey('batch/f.csv')).toBeUndefined();
  });
});

describe('byte-range chunks', () => {
  const lines = Array.from({ length: 200 }, (_, i) => (i % 17 === 0 ? '' : `row-${i}-${'é'.repeat(i % 5)}`));
  test.each([1, 2, 7, 64, 1000, 100000])(
    'chunks of %i bytes give every line exactly once, in order',
    async (chunkBytes) => {
      for (const text of [lines.join('\n'), `${lines.join('\r\n')}\r\n`]) {
        const { size, read } = bytesReader(text);
        const out: string[] = [];
        for (const chunk of planChunks(size, chunkBytes)) out.push(...(await readChunkLines(read, chunk, size)));
        expect(out).toEqual(lines);
      }
    },
  );
});

describe('scoring a chunk', () => {
  const layout = detectLayout('batch/m/a.csv', 'id,Type,Torque [Nm],speed\n', features);
  const text = [
    'id,Type,Torque [Nm],speed',
    '1,L,10,1500',
    '2,X,20,1500',
    '',
    '3,M,,1500',
    '4,H,abc,1500',
    '5,H,30',
    '"6,a",H,90,1500',
  ];

  test.each([
    ['row objects', {}],
    ['the CSV hot path (tensors)', { predictInputs }],
  ])('refused rows are listed with line and reason, the rest scored in input order (%s)', async (_, extra) => {
    const result = await scoreChunk(text, {
      layout,
      features,
      classes,
      validate,
      predict,
      firstChunk: true,
      batchRows: 2,
      ...extra,
    });
    expect(result.refused).toEqual([
      { line: 3, reason: expect.stringMatching(/unknown category "X"/) },
      { line: 6, reason: expect.stringMatching(/must be a finite number/) },
      { line: 7, reason: 'has 3 values; the header has 4' },
    ]);
    expect(result).toMatchObject({ lines: 8, rows: 6, scored: 3 });
    expect(result.output.split('\n')).toEqual([
      'id,Type,Torque [Nm],speed,prediction,probability_0,probability_1',
      '1,L,10,1500,0,0.9,0.1',
      '3,M,,1500,0,0.6,0.4',
      '"6,a",H,90,1500,1,0.1,0.9',
      '',
    ]);
  });

  test('the hot path reads blank and padded cells as the API does: "  " is missing, " 0 " is 0', async () => {
    const result = await scoreChunk(['id,Type,Torque [Nm],speed', '1, M ,  ,1500', '2,L, 0 ,1500', '3,L,0x,1'], {
      layout,
      features,
      classes,
      validate,
      predict,
      predictInputs,
      firstChunk: true,
    });
    expect(result.output.split('\n').slice(1)).toEqual(['1, M ,  ,1500,0,0.6,0.4', '2,L, 0 ,1500,0,1,0', '']);
    expect(result.refused).toEqual([{ line: 4, reason: expect.stringMatching(/must be a finite number/) }]);
  });

  test.each([
    ['the hot path', true],
    ['the general path', false],
  ])(
    '%s takes the first non-blank line as the header, as the layout does (blank lines before it are not rows)',
    async (_, hot) => {
      const result = await scoreChunk(['', '\r', 'id,Type,Torque [Nm],speed', '1,L,10,1500'], {
        layout,
        features,
        classes,
        validate,
        predict,
        ...(hot ? { predictInputs } : {}),
        firstChunk: true,
      });
      expect(result).toMatchObject({ rows: 1, scored: 1, refused: [] });
      expect(result.output.split('\n')[0]).toBe('id,Type,Torque [Nm],speed,prediction,probability_0,probability_1');
    },
  );

  test('probabilities are written as String(round to 6 decimals) would write them', () => {
    const values = [0, 1, 0.5, 0.1, 1e-6, 4e-7, 6e-7, 0.0000105, 0.999999, 0.9999996, 0.12345, -0, -0.2, 1.5, NaN];
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      values.push(Math.fround(seed / 2147483648), Math.fround((seed % 1000) / 1e7));
    }
    for (const p of values) expect(formatProbability(p)).toBe(String(Math.round(p * 1e6) / 1e6));
  });

  test('the hot path writes each probability as String(round to 6 decimals) and non-ASCII lines intact', async () => {
    const n = 3000;
    const values = new Float32Array(n * 2);
    let seed = 11;
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const p = i % 7 === 0 ? (seed % 1000) / 1e7 : seed / 2147483648;
      values[i * 2] = 1 - p;
      values[i * 2 + 1] = p;
    }
    values[0] = 1.25; // not from a softmax, still written as String() would
    const rows = Array.from({ length: n }, (_, i) => `é${i}ü,L,10,1500`);
    let done = 0;
    const result = await scoreChunk(['id,Type,Torque [Nm],speed', ...rows], {
      layout,
      features,
      classes,
      validate,
      predict,
      // Successive onnxruntime calls get successive rows.
      predictInputs: async (_, m) => values.subarray(2 * (done += m) - 2 * m, 2 * done),
      firstChunk: true,
      batchRows: 1000,
    });
    const round = (p: number) => String(Math.round(p * 1e6) / 1e6);
    const expected = rows.map((row, i) => {
      const [a, b] = [values[i * 2], values[i * 2 + 1]];
      return `${row},${b > a ? '1' : '0'},${round(a)},${round(b)}`;
    });
    expect(result.output.split('\n').slice(1, -1)).toEqual(expected);
  });

  test('JSON Lines keep their other keys and gain the prediction', async () => {
    const jl = detectLayout('batch/m/a.jsonl', '{"Type":"L","Torque [Nm]":10,"speed":1}', features);
    const result = await scoreChunk(['{"id":7,"Type":"L","Torque [Nm]":10,"speed":1}', '[1]', '{"Type":"L"}'], {
      layout: jl,
      features,
      classes,
      validate,
      predict,
      firstChunk: true,
    });
    expect(JSON.parse(result.output)).toEqual({
      id: 7,
      Type: 'L',
      'Torque [Nm]': 10,
      speed: 1,
      prediction: '0',
      probabilities: { '0': 0.9, '1': 0.1 },
    });
    expect(result.refused.map((r) => r.line)).toEqual([2, 3]);
    expect(result.refused[1].reason).toMatch(/missing feature "Torque \[Nm\]"/);
  });
});

describe('the report', () => {
  const job: BatchJob = {
    job: 'j',
    model: 'm',
    version: 3,
    source: { bucket: 'b', key: 'batch/m/a.csv', etag: 'e', size: 10 },
    layout: { format: 'csv', header: true, columns: [], featureColumns: [] },
    classes,
    chunkBytes: 5,
    chunks: 2,
    startedAt: '2026-01-01T00:00:00.000Z',
  };
  const summary = (index: number, lines: number, refusedAt: number[]): ChunkSummary => ({
    index,
    lines,
    rows: lines,
    scored: lines - refusedAt.length,
    refused: refusedAt.map((line) => ({ line, reason: 'bad' })),
    part: `p${index}`,
    seconds: 0.5,
  });

  test('chunk line numbers become file line numbers and the counts add up', () => {
    const report = buildReport(job, [summary(1, 4, [2]), summary(0, 5, [1, 5])], new Date('2026-01-01T00:00:02Z'));
    expect(report.refused.map((r) => r.line)).toEqual([1, 5, 7]);
    expect(report).toMatchObject({ rowsIn: 9, rowsScored: 6, rowsRefused: 3, results: ['p0', 'p1'], version: 3 });
    expect(report.timings.seconds).toBe(2);
  });

  test('a chunk with no summary (failed, within the tolerance) makes the report partial, naming its bytes', () => {
    const report = buildReport(job, [summary(0, 5, [])], new Date());
    expect(report).toMatchObject({
      status: 'partial',
      failedChunks: [{ index: 1, start: 5, end: 10 }],
      reason: { code: 'chunks_failed', message: expect.stringMatching(/1 of 2 chunks failed .*bytes 5-10/) },
      rowsIn: 5,
      results: ['p0'],
    });
  });

  test('past a failed chunk, refused rows are numbered within their chunk (the lines before are unknown)', () => {
    const report = buildReport(
      { ...job, chunks: 3, source: { ...job.source, size: 15 } },
      [summary(0, 5, [2]), summary(2, 4, [3])],
      new Date(),
    );
    expect(report.status).toBe('partial');
    expect(report.refused).toEqual([
      { line: 2, reason: 'bad' },
      { line: 3, chunk: 2, reason: 'bad' },
    ]);
  });
});
