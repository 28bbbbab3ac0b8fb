import { captureRecordsOf } from '../../core/monitoring/captured-request';
import { gzipSync } from 'node:zlib';
import {
  asFeedbackRecord,
  type ReadCounts,
  readJsonValues,
  splitConcatenatedJson,
} from '../../core/monitoring/capture-reader';
import { CAPTURE_KIND, type CaptureRecord } from '../../core/monitoring/contract';

/** The forms a capture object may take on its way through CloudWatch Logs and Firehose, and bad lines among them. */

const record = (i: number): CaptureRecord => ({
  kind: CAPTURE_KIND,
  inferenceId: `id-${i}`,
  time: '2026-03-01T10:00:00.000Z',
  model: 'iris',
  version: 1,
  variant: 'champion',
  features: { petal_length: 1.4 + i, colour: 'red', note: null },
  label: 'setosa',
  probabilities: { setosa: 0.9, versicolor: 0.1 },
  latencyMs: 1.2,
});

function read(body: Uint8Array | string): { values: unknown[]; counts: ReadCounts } {
  const values: unknown[] = [];
  const counts: ReadCounts = { unparsable: 0 };
  readJsonValues(typeof body === 'string' ? Buffer.from(body) : body, (v) => values.push(v), counts);
  return { values, counts };
}

const lines = (...records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

describe('readJsonValues', () => {
  test('reads JSON lines, skipping blank lines', () => {
    expect(read(`${lines(record(1))}\n\n${lines(record(2))}`).values).toEqual([record(1), record(2)]);
  });

  test('reads gzip, including several gzip members in one object (Firehose appends them)', () => {
    const body = Buffer.concat([gzipSync(lines(record(1))), gzipSync(lines(record(2), record(3)))]);
    expect(read(body).values).toEqual([record(1), record(2), record(3)]);
  });

  test('reads records written back to back without a delimiter, braces inside strings included', () => {
    const tricky = { ...record(2), features: { note: 'a } { "quoted" \\ value' } };
    expect(read(JSON.stringify(record(1)) + JSON.stringify(tricky)).values).toEqual([record(1), tricky]);
  });

  test('unwraps CloudWatch Logs subscription envelopes, with or without a console.log prefix, and ignores control messages', () => {
    const envelope = (messages: string[]) => ({
      messageType: 'DATA_MESSAGE',
      owner: '1',
      logGroup: '/aws/lambda/inference',
      logStream: 's',
      subscriptionFilters: ['capture'],
      logEvents: messages.map((message, i) => ({ id: String(i), timestamp: 0, message })),
    });
    const control = {
      messageType: 'CONTROL_MESSAGE',
      logEvents: [{ id: '', timestamp: 0, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
    };
    const body = gzipSync(
      JSON.stringify(
        envelope([JSON.stringify(record(1)), `2026-03-01T10:00:00.000Z\tabc-123\tINFO\t${JSON.stringify(record(2))}`]),
      ) +
        JSON.stringify(control) +
        JSON.stringify(envelope([`${JSON.stringify(record(3))}\n`])),
    );
    const { values, counts } = read(body);
    expect(values).toEqual([record(1), record(2), record(3)]);
    expect(counts.unparsable).toBe(0);
  });

  test('counts lines that are not JSON and keeps the records around them', () => {
    const { values, counts } = read(
      `${lines(record(1))}not json\n{"kind": "inference-capture", "truncated\n${lines(record(2))}} stray\n`,
    );
    expect(values).toEqual([record(1), record(2)]);
    expect(counts.unparsable).toBe(3);
  });
});

describe('readJsonValues on Firehose error output (capture-errors/)', () => {
  // The source record Firehose could not partition (a Logs batch of more than 500 events) or
  // deliver, base64 in rawData, kept compressed when it failed after decompression.
  const envelope = (...records: unknown[]) => ({
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: '/aws/lambda/inference',
    logStream: '2026/03/01/[$LATEST]abc',
    subscriptionFilters: ['capture'],
    logEvents: records.map((r, i) => ({ id: String(i), timestamp: 1772359200000, message: JSON.stringify(r) })),
  });
  const failed = (rawData: Uint8Array | string, fields: Record<string, unknown> = {}) => ({
    attemptsMade: 1,
    arrivalTimestamp: 1772359200000,
    errorCode: 'DynamicPartitioning.DeAggregationRecordCountLimitExceeded',
    errorMessage: 'Record de-aggregation produced more than 500 records',
    attemptEndingTimestamp: 1772359201000,
    rawData: Buffer.from(rawData).toString('base64'),
    ...fields,
  });
  const readErrors = (body: string) => {
    const values: unknown[] = [];
    const counts: ReadCounts = { unparsable: 0, errorCodes: {} };
    readJsonValues(Buffer.from(body), (v) => values.push(v), counts);
    return { values, counts };
  };
  const otherModel = { ...record(9), model: 'churn' };

  test("unwraps a gzipped CloudWatch Logs batch, every model's records, and counts the error codes", () => {
    const batch = Array.from({ length: 600 }, (_, i) => record(i));
    const { values, counts } = readErrors(
      lines(
        failed(gzipSync(JSON.stringify(envelope(...batch, otherModel)))),
        failed(gzipSync(JSON.stringify(envelope(record(600))))),
      ),
    );
    expect(values).toEqual([...batch, otherModel, record(600)]);
    expect(counts).toEqual({
      unparsable: 0,
      errorCodes: { 'DynamicPartitioning.DeAggregationRecordCountLimitExceeded': 2 },
    });
  });

  test('unwraps a decompressed envelope and already-extracted message lines, whatever the error fields are called', () => {
    const { values, counts } = readErrors(
      lines(
        failed(JSON.stringify(envelope(record(1), record(2))), {
          errorCode: 'DynamicPartitioning.MetadataExtractionFailed',
        }),
        failed(lines(record(3), otherModel)),
        // Format conversion's spelling; and a record with no code at all.
        { ...failed(JSON.stringify(record(4))), errorCode: undefined, ErrorCode: 'DataFormatConversion.ParseError' },
        { rawData: Buffer.from(JSON.stringify(record(5))).toString('base64'), arrivalTimestamp: 1772359200000 },
      ),
    );
    expect(values).toEqual([record(1), record(2), record(3), otherModel, record(4), record(5)]);
    expect(counts).toEqual({
      unparsable: 0,
      errorCodes: {
        'DynamicPartitioning.MetadataExtractionFailed': 1,
        'DynamicPartitioning.DeAggregationRecordCountLimitExceeded': 1,
        'DataFormatConversion.ParseError': 1,
        unknown: 1,
      },
    });
  });

  test('a control message in error output holds no records', () => {
    const control = {
      messageType: 'CONTROL_MESSAGE',
      owner: 'CloudwatchLogs',
      logGroup: '',
      logStream: '',
      subscriptionFilters: [],
      logEvents: [{ id: '', timestamp: 0, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
    };
    const { values, counts } = readErrors(
      lines(failed(gzipSync(JSON.stringify(control))), failed(JSON.stringify(control))),
    );
    expect(values).toEqual([]);
    expect(counts.unparsable).toBe(0);
  });

  test('garbage in rawData is counted as unparsable and the records around it are kept', () => {
    const truncatedGzip = gzipSync(JSON.stringify(envelope(record(1)))).subarray(0, 20);
    const { values, counts } = readErrors(
      lines(
        failed(gzipSync(JSON.stringify(envelope(record(1))))),
        failed(truncatedGzip),
        { ...failed(''), rawData: 'not base64 at all!' },
        failed('neither JSON\nnor an envelope'),
        failed(JSON.stringify(envelope(record(2)))),
      ),
    );
    expect(values).toEqual([record(1), record(2)]);
    expect(counts.unparsable).toBe(4);
    expect(counts.errorCodes).toEqual({ 'DynamicPartitioning.DeAggregationRecordCountLimitExceeded': 5 });
  });

  test('an object with a rawData field and nothing Firehose writes is an ordinary value', () => {
    expect(readErrors(lines({ rawData: 'eyJhIjoxfQ==' })).values).toEqual([{ rawData: 'eyJhIjoxfQ==' }]);
  });

  test('an error-output object Firehose gzipped as a whole reads like a plain one', () => {
    const values: unknown[] = [];
    readJsonValues(gzipSync(lines(failed(gzipSync(JSON.stringify(envelope(record(1))))))), (v) => values.push(v), {
      unparsable: 0,
    });
    expect(values).toEqual([record(1)]);
  });
});

test('splitConcatenatedJson refuses text between values', () => {
  expect(splitConcatenatedJson('{"a":1}{"b":[2]}')).toEqual(['{"a":1}', '{"b":[2]}']);
  expect(splitConcatenatedJson('{"a":1} x {"b":2}')).toBeUndefined();
  expect(splitConcatenatedJson('{"a":1')).toBeUndefined();
});

describe('captureRecordsOf, one instance per line', () => {
  test('accepts a capture record', () => {
    expect(captureRecordsOf(record(1))).toEqual([record(1)]);
  });

  test.each([
    ['another kind of line', { ...record(1), kind: 'request' }],
    ['no inference id', { ...record(1), inferenceId: undefined }],
    ['a time that is not a date', { ...record(1), time: 'yesterday' }],
    ['a version that is not a number', { ...record(1), version: '1' }],
    ['features that are not an object', { ...record(1), features: [1, 2] }],
    ['a feature value that is an object', { ...record(1), features: { a: { nested: 1 } } }],
    ['no label', { ...record(1), label: null }],
  ])('refuses %s', (_, value) => {
    expect(captureRecordsOf(value)).toBeUndefined();
  });
});

test('asFeedbackRecord needs an id, a label, a model and a time', () => {
  const feedback = { inferenceId: 'id-1', label: 'setosa', model: 'iris', receivedAt: '2026-03-01T10:00:00.000Z' };
  expect(asFeedbackRecord(feedback)).toEqual(feedback);
  expect(asFeedbackRecord({ ...feedback, label: 3 })).toBeUndefined();
});
