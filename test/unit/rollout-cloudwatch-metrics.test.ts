import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchVariantMetrics } from '../../lambdas/rollout/cloudwatch-metrics';

/**
 * The rollout gate's CloudWatch reader, stubbed at the SDK boundary (CloudWatch has no local
 * server here): the queries it sends (metric names, dimensions as Powertools writes them,
 * statistic, one period over the window) and how it reads the answers back.
 */

const cloudwatch = mockClient(CloudWatchClient);
afterEach(() => cloudwatch.reset());

const CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];
const metrics = () =>
  new CloudWatchVariantMetrics({
    client: new CloudWatchClient({ region: 'us-east-1' }),
    classesOf: async () => CLASSES,
  });

type Query = NonNullable<GetMetricDataCommandInput['MetricDataQueries']>[number];
const dimensionsOf = (q: Query) =>
  Object.fromEntries((q.MetricStat?.Metric?.Dimensions ?? []).map((d) => [d.Name, d.Value]));

test('asks for every variant metric with the dimensions the inference function records, over one period covering the window', async () => {
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  await metrics().window('iris', new Date('2026-11-30T10:03:25Z'), new Date('2026-11-30T10:13:30Z'));

  const input = cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input;
  // Floored to the minute; 10:03 -> 10:13:30 is 10.5 minutes, so 11 whole minutes.
  expect(input.StartTime).toEqual(new Date('2026-11-30T10:03:00Z'));
  expect(input.EndTime).toEqual(new Date('2026-11-30T10:14:00Z'));
  const queries = input.MetricDataQueries ?? [];
  expect(queries).toHaveLength(2 * (3 + CLASSES.length));
  for (const query of queries) {
    expect(query.MetricStat).toMatchObject({ Period: 660, Metric: { Namespace: 'ServerlessMlops' } });
    expect(query.Id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
  }
  const summary = queries.map(
    (q) => `${q.MetricStat?.Metric?.MetricName} ${q.MetricStat?.Stat} ${JSON.stringify(dimensionsOf(q))}`,
  );
  expect(summary).toEqual(
    expect.arrayContaining([
      'VariantRequests Sum {"service":"inference","model":"iris","variant":"canary"}',
      'VariantServerErrors Sum {"service":"inference","model":"iris","variant":"champion"}',
      'VariantLatency p99 {"service":"inference","model":"iris","variant":"canary"}',
      'VariantPredictions Sum {"service":"inference","model":"iris","variant":"champion","class":"Iris-virginica"}',
    ]),
  );
});

test('reads sums, the p99 and class counts back per variant, across pages', async () => {
  cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
    const ids = new Map(
      (input.MetricDataQueries ?? []).map((q) => [
        `${q.MetricStat?.Metric?.MetricName}/${dimensionsOf(q).variant}/${dimensionsOf(q).class ?? ''}`,
        q.Id as string,
      ]),
    );
    const result = (key: string, values: number[]): MetricDataResult => ({
      Id: ids.get(key),
      Values: values,
      StatusCode: 'Complete',
    });
    if (input.NextToken === undefined) {
      return {
        NextToken: 'page-2',
        MetricDataResults: [
          result('VariantRequests/canary/', [120]),
          result('VariantServerErrors/canary/', [3]),
          result('VariantLatency/canary/', [12.5]),
          result('VariantPredictions/canary/Iris-setosa', [60]),
        ],
      };
    }
    return {
      MetricDataResults: [
        result('VariantRequests/champion/', [900]),
        result('VariantServerErrors/champion/', []),
        result('VariantLatency/champion/', [9.5]),
        result('VariantPredictions/canary/Iris-virginica', [60]),
        result('VariantPredictions/champion/Iris-setosa', [450]),
        result('VariantPredictions/champion/Iris-versicolor', [450]),
      ],
    };
  });

  const window = await metrics().window('iris', new Date('2026-11-30T10:00:00Z'), new Date('2026-11-30T10:10:00Z'));

  expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(2);
  expect(window).toEqual({
    canary: {
      requests: 120,
      serverErrors: 3,
      p99LatencyMs: 12.5,
      classCounts: { 'Iris-setosa': 60, 'Iris-virginica': 60 },
    },
    champion: {
      requests: 900,
      serverErrors: 0,
      p99LatencyMs: 9.5,
      classCounts: { 'Iris-setosa': 450, 'Iris-versicolor': 450 },
    },
  });
});

test('a variant with no traffic in the window has zero counts and no p99', async () => {
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  const window = await metrics().window('iris', new Date('2026-11-30T10:00:00Z'), new Date('2026-11-30T10:00:20Z'));
  expect(window.canary).toEqual({ requests: 0, serverErrors: 0, p99LatencyMs: undefined, classCounts: {} });
  // Even a window shorter than a minute asks for one whole minute.
  expect(cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.[0].MetricStat?.Period).toBe(
    60,
  );
});

test('splits more than 500 queries over several calls (a model with many classes)', async () => {
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  const many = Array.from({ length: 300 }, (_, i) => `class-${i}`);
  await new CloudWatchVariantMetrics({
    client: new CloudWatchClient({ region: 'us-east-1' }),
    classesOf: async () => many,
  }).window('m', new Date(0), new Date(60_000));
  const sizes = cloudwatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries?.length);
  expect(sizes).toEqual([500, 106]);
});
