import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import fc from 'fast-check';
import { parseEmfLine } from '../../local/emf';
import { PIPELINE_METRICS, PIPELINE_METRICS_SERVICE } from '../../lambdas/pipeline/metrics';
import { type MetricRecord, powertoolsRecorder } from '../../lambdas/shared/metrics';

/** The lines Powertools writes to stdout while `act` runs (its Console writes to process.stdout). */
function stdoutLines(act: () => void): string[] {
  const chunks: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    act();
  } finally {
    write.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.length > 0);
}

const newMetrics = () => new Metrics({ namespace: 'ServerlessMlops', serviceName: 'pipeline' });

describe('parseEmfLine', () => {
  const saved = { disabled: process.env.POWERTOOLS_METRICS_DISABLED, dev: process.env.POWERTOOLS_DEV };
  beforeAll(() => {
    // Powertools writes nothing when metrics are disabled, and uses the global console in dev mode.
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    delete process.env.POWERTOOLS_DEV;
  });
  afterAll(() => {
    for (const [name, value] of [
      ['POWERTOOLS_METRICS_DISABLED', saved.disabled],
      ['POWERTOOLS_DEV', saved.dev],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test('reads a metric Powertools writes in single-metric mode, with its dimensions and unit but not service', () => {
    const lines = stdoutLines(() => {
      const single = newMetrics().singleMetric();
      single.addDimensions({ model: 'iris', outcome: 'promoted' });
      single.addMetric('RetrainingRuns', MetricUnit.Count, 1);
    });

    expect(lines).toHaveLength(1);
    expect(parseEmfLine(lines[0])).toEqual([
      { name: 'RetrainingRuns', unit: 'Count', value: 1, dimensions: { model: 'iris', outcome: 'promoted' } },
    ]);
  });

  test('gives back every record the pipeline recorder writes', () => {
    const records: MetricRecord[] = [
      { name: PIPELINE_METRICS.runs, unit: 'Count', value: 1, dimensions: { model: 'iris', outcome: 'rejected' } },
      {
        name: PIPELINE_METRICS.candidateScore,
        unit: 'None',
        value: 0.9667,
        dimensions: { model: 'iris', metric: 'macroF1' },
      },
      { name: PIPELINE_METRICS.runDuration, unit: 'Seconds', value: 42.5, dimensions: { model: 'iris' } },
      { name: 'InferenceLatency', unit: 'Milliseconds', value: 3.21, dimensions: { model: 'iris' } },
      { name: 'ColdStart', unit: 'Count', value: 1, dimensions: {} },
    ];
    const recorder = powertoolsRecorder({ serviceName: PIPELINE_METRICS_SERVICE, metrics: newMetrics() });

    const lines = stdoutLines(() => records.forEach((record) => recorder.record(record)));

    expect(lines.flatMap(parseEmfLine)).toEqual(records);
  });

  test('gives one record per value when Powertools writes a metric added twice as an array', () => {
    const lines = stdoutLines(() => {
      const metrics = newMetrics();
      metrics.addDimensions({ model: 'iris' });
      metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, 3);
      metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, 4);
      metrics.publishStoredMetrics();
    });

    expect(lines.flatMap(parseEmfLine)).toEqual([
      { name: 'InferenceLatency', unit: 'Milliseconds', value: 3, dimensions: { model: 'iris' } },
      { name: 'InferenceLatency', unit: 'Milliseconds', value: 4, dimensions: { model: 'iris' } },
    ]);
  });

  test('maps units the dashboard does not know to None', () => {
    const lines = stdoutLines(() => newMetrics().singleMetric().addMetric('ModelBytes', MetricUnit.Bytes, 2048));

    expect(parseEmfLine(lines[0])).toEqual([{ name: 'ModelBytes', unit: 'None', value: 2048, dimensions: {} }]);
  });

  const valid = {
    _aws: {
      Timestamp: 1,
      CloudWatchMetrics: [
        {
          Namespace: 'ServerlessMlops',
          Dimensions: [['service', 'model']],
          Metrics: [{ Name: 'Promoted', Unit: 'Count' }],
        },
      ],
    },
    service: 'pipeline',
    model: 'iris',
    Promoted: 1,
  };
  const without = (key: string) => JSON.stringify(Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key)));

  test('reads a hand-written entry like the ones Powertools writes (control for the refusals below)', () => {
    expect(parseEmfLine(`  ${JSON.stringify(valid)}\r`)).toEqual([
      { name: 'Promoted', unit: 'Count', value: 1, dimensions: { model: 'iris' } },
    ]);
  });

  test.each([
    [
      'a Logger line',
      JSON.stringify({
        level: 'INFO',
        message: 'validated',
        service: 'pipeline',
        timestamp: '2025-01-01T00:00:00.000Z',
      }),
    ],
    ['plain text', 'training gbdt: 120 trees'],
    ['an empty line', ''],
    ['truncated JSON', JSON.stringify(valid).slice(0, -3)],
    ['a JSON array', JSON.stringify([valid])],
    ['an entry without the metric value', without('Promoted')],
    ['an entry without a dimension value', without('model')],
    ['a value that is not a number', JSON.stringify({ ...valid, Promoted: '1' })],
    ['a value array with a string in it', JSON.stringify({ ...valid, Promoted: [1, 'x'] })],
    ['a dimension value that is not a string', JSON.stringify({ ...valid, model: 7 })],
    ['_aws without CloudWatchMetrics', JSON.stringify({ ...valid, _aws: { Timestamp: 1 } })],
    [
      'a metric without a name',
      JSON.stringify({
        ...valid,
        _aws: {
          ...valid._aws,
          CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Metrics: [{ Unit: 'Count' }] }],
        },
      }),
    ],
  ])('returns no records for %s', (_what, line) => {
    expect(parseEmfLine(line)).toEqual([]);
  });

  test('never throws, whatever the line', () => {
    const lines = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record({ _aws: fc.anything(), service: fc.anything(), Promoted: fc.anything() })
        .map((entry) => JSON.stringify(entry)),
    );
    expect(() => fc.assert(fc.property(lines, (line) => Array.isArray(parseEmfLine(line))))).not.toThrow();
  });
});
