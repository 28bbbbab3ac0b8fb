import { captureRecordsOf } from '../../core/monitoring/captured-request';

const line = (request: unknown, predictions: unknown[], extra: Record<string, unknown> = {}) => ({
  kind: 'inference-capture',
  requestId: 'r1',
  time: '2026-11-30T19:00:00.000Z',
  model: 'iris',
  version: 2,
  variant: 'canary',
  latencyMs: 1.5,
  featureNames: ['a', 'b'],
  request,
  response: { model: 'iris', version: 2, inferenceId: 'r1', predictions },
  ...extra,
});
const prediction = (id: string, label = 'x') => ({ inferenceId: id, label, probabilities: { x: 0.9, y: 0.1 } });

describe('captureRecordsOf', () => {
  it('expands a request line into one record per instance, in order, whichever form the body had', () => {
    const expected = (id: string, features: Record<string, unknown>) => ({
      kind: 'inference-capture',
      inferenceId: id,
      time: '2026-11-30T19:00:00.000Z',
      model: 'iris',
      version: 2,
      variant: 'canary',
      features,
      label: 'x',
      probabilities: { x: 0.9, y: 0.1 },
      latencyMs: 1.5,
    });
    expect(captureRecordsOf(line({ features: { a: 1, b: 'u' } }, [prediction('r1')]))).toEqual([
      expected('r1', { a: 1, b: 'u' }),
    ]);
    expect(captureRecordsOf(line({ features: [1, null] }, [prediction('r1')]))).toEqual([
      expected('r1', { a: 1, b: null }),
    ]);
    expect(captureRecordsOf(line([3, 'v'], [prediction('r1')]))).toEqual([expected('r1', { a: 3, b: 'v' })]);
    expect(
      captureRecordsOf(line({ instances: [{ a: 1, b: 2 }, [3, 4]] }, [prediction('r1.0'), prediction('r1.1')])),
    ).toEqual([expected('r1.0', { a: 1, b: 2 }), expected('r1.1', { a: 3, b: 4 })]);
  });

  it('keeps a "__proto__" feature as data', () => {
    const records = captureRecordsOf(line(JSON.parse('{"features": {"__proto__": 1, "b": 2}}'), [prediction('r1')]));
    expect(Object.keys(records?.[0].features ?? {})).toEqual(['__proto__', 'b']);
  });

  it.each([
    [
      'instances and predictions that do not pair up',
      line({ instances: [{ a: 1, b: 2 }] }, [prediction('r1.0'), prediction('r1.1')]),
    ],
    ['an array of the wrong length', line({ features: [1] }, [prediction('r1')])],
    ['a feature value that is an object', line({ features: { a: { deep: 1 }, b: 2 } }, [prediction('r1')])],
    ['a body of no known form', line({ rows: [] }, [])],
    ['a time that is not one', line({ features: { a: 1, b: 2 } }, [prediction('r1')], { time: 'noon' })],
    ['no feature names', line({ features: { a: 1, b: 2 } }, [prediction('r1')], { featureNames: 'a,b' })],
    ['a prediction without an id', line({ features: { a: 1, b: 2 } }, [{ label: 'x', probabilities: {} }])],
  ])('refuses %s', (_what, value) => {
    expect(captureRecordsOf(value)).toBeUndefined();
  });
});
