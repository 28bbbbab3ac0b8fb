import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import type { VariantStats } from '../../core/rollout/live-gate';
import type { VariantMetricsQuery, VariantWindow } from '../../core/rollout/metrics-query';
import { type Variant, VARIANTS } from '../../core/registry/routing';
import { INFERENCE_METRICS, METRICS_SERVICE } from '../inference/metrics';
import { METRICS_NAMESPACE } from '../shared/metrics';
import { maxOf } from '../../core/arrays';

/**
 * The rollout gate's metrics from CloudWatch: one GetMetricData call (paged) per window, with one
 * datapoint per query covering the whole window, so the p99 is the window's p99 and not a
 * statistic of per-minute p99s. Dimensions are what the inference function records plus
 * `service`, which Powertools adds to every EMF record.
 *
 * The window's start is floored to the minute (CloudWatch keeps EMF metrics at 1-minute
 * resolution), so it may include up to 59 s of the previous step: the same two versions, only at
 * another weight, which changes the counts but not what is compared (rates, p99, class mix).
 * Metrics reach CloudWatch a minute or two after the requests; the bake absorbs that.
 */

const MINUTE_MS = 60_000;
/** GetMetricData takes at most 500 queries per call. */
const MAX_QUERIES = 500;

export interface CloudWatchVariantMetricsOptions {
  readonly client: Pick<CloudWatchClient, 'send'>;
  /** The model's class labels (the champion's manifest: a canary must have the same classes). */
  readonly classesOf: (model: string) => Promise<readonly string[]>;
  /** @default METRICS_NAMESPACE ('ServerlessMlops') */
  readonly namespace?: string;
  /** The inference function's POWERTOOLS_SERVICE_NAME. @default METRICS_SERVICE ('inference') */
  readonly service?: string;
}

type Field = 'requests' | 'serverErrors' | 'p99' | 'class';

interface Planned {
  readonly variant: Variant;
  readonly field: Field;
  readonly label?: string;
}

export class CloudWatchVariantMetrics implements VariantMetricsQuery {
  private readonly namespace: string;
  private readonly service: string;

  constructor(private readonly options: CloudWatchVariantMetricsOptions) {
    this.namespace = options.namespace ?? METRICS_NAMESPACE;
    this.service = options.service ?? METRICS_SERVICE;
  }

  async window(model: string, since: Date, until: Date): Promise<VariantWindow> {
    const start = Math.floor(since.getTime() / MINUTE_MS) * MINUTE_MS;
    // One period over the whole window: a whole number of minutes, at least one.
    const period = Math.max(1, Math.ceil((until.getTime() - start) / MINUTE_MS)) * 60;
    const classes = await this.options.classesOf(model);
    const planned = new Map<string, Planned>();
    const queries: MetricDataQuery[] = [];
    const add = (id: string, what: Planned, metricName: string, stat: string, extra: Record<string, string> = {}) => {
      planned.set(id, what);
      const dimensions = { service: this.service, model, variant: what.variant, ...extra };
      queries.push({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: this.namespace,
            MetricName: metricName,
            Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
          },
          Period: period,
          Stat: stat,
        },
        ReturnData: true,
      });
    };
    VARIANTS.forEach((variant, v) => {
      add(`requests${v}`, { variant, field: 'requests' }, INFERENCE_METRICS.variantRequests, 'Sum');
      add(`errors${v}`, { variant, field: 'serverErrors' }, INFERENCE_METRICS.variantServerErrors, 'Sum');
      add(`latency${v}`, { variant, field: 'p99' }, INFERENCE_METRICS.variantLatency, 'p99');
      classes.forEach((label, c) =>
        add(`class${v}_${c}`, { variant, field: 'class', label }, INFERENCE_METRICS.variantPredictions, 'Sum', {
          class: label,
        }),
      );
    });

    const values = new Map<string, number[]>();
    const window = { StartTime: new Date(start), EndTime: new Date(start + period * 1000) };
    for (let i = 0; i < queries.length; i += MAX_QUERIES) {
      let token: string | undefined;
      do {
        const page: GetMetricDataCommandOutput = await this.options.client.send(
          new GetMetricDataCommand({
            ...window,
            MetricDataQueries: queries.slice(i, i + MAX_QUERIES),
            NextToken: token,
          }),
        );
        for (const result of page.MetricDataResults ?? []) {
          if (result.Id === undefined) continue;
          values.set(result.Id, [...(values.get(result.Id) ?? []), ...(result.Values ?? [])]);
        }
        token = page.NextToken;
      } while (token);
    }

    const stats: Record<
      Variant,
      { requests: number; serverErrors: number; p99LatencyMs: number | undefined; classCounts: Record<string, number> }
    > = {
      champion: { requests: 0, serverErrors: 0, p99LatencyMs: undefined, classCounts: {} },
      canary: { requests: 0, serverErrors: 0, p99LatencyMs: undefined, classCounts: {} },
    };
    for (const [id, what] of planned) {
      const found = values.get(id) ?? [];
      const target = stats[what.variant];
      const sum = found.reduce((a, b) => a + b, 0);
      if (what.field === 'requests') target.requests = sum;
      else if (what.field === 'serverErrors') target.serverErrors = sum;
      // One datapoint is expected; should CloudWatch split the window, the slowest part's p99 is the cautious reading.
      else if (what.field === 'p99') target.p99LatencyMs = found.length > 0 ? maxOf(found) : undefined;
      else if (sum > 0 && what.label !== undefined) target.classCounts[what.label] = sum;
    }
    return stats as Readonly<Record<Variant, VariantStats>>;
  }
}
