import { ALARM_EVENT_DETAIL_TYPE } from '../lambdas/rollout/alarm-abort';
import { INFERENCE_METRICS, METRICS_SERVICE } from '../lambdas/inference/metrics';
import { METRICS_NAMESPACE } from '../lambdas/shared/metrics';
import type { LocalVariantMetrics } from './rollout-metrics';

/**
 * The canary rollback alarms of the local platform: for each model, the same condition as the
 * stack's CloudWatch alarm (VariantServerErrors{variant=canary}, Sum over the period > 0; no data
 * is OK), evaluated every second instead of every minute so a failing canary is taken out within
 * a few seconds. Like CloudWatch, it acts on a change of state only: going to ALARM produces the
 * "CloudWatch Alarm State Change" event EventBridge would deliver to the rollout function; it
 * returns to OK once a whole period has passed without a canary error.
 */

export interface CanaryAlarmsOptions {
  readonly metrics: LocalVariantMetrics;
  /** The models to watch (one alarm each, as the stack creates one per spec). */
  readonly models: readonly string[];
  /** Called with the state-change event when an alarm goes to ALARM (the rollout function's alarm-abort). */
  readonly onAlarm: (event: CanaryAlarmEvent) => Promise<unknown>;
  /** The alarm's period: errors in the last this many seconds count. @default 60 (the stack's) */
  readonly periodSeconds?: number;
  /** How often the alarms are evaluated. @default 1000 */
  readonly evaluateEveryMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
  /** Alarm transitions and failures of onAlarm. */
  readonly log?: (line: string) => void;
}

export type CanaryAlarmEvent = ReturnType<typeof canaryAlarmEvent>;

/** The local name of a model's rollback alarm (CloudFormation names the deployed ones). */
const canaryAlarmName = (model: string) => `CanaryServerErrors-${model}`;

/** The EventBridge event of an alarm state change, shaped as CloudWatch sends it. */
export function canaryAlarmEvent(model: string, state: 'ALARM' | 'OK', reason: string, at: Date) {
  const alarmName = canaryAlarmName(model);
  return {
    version: '0',
    id: `local-${at.getTime()}-${model}`,
    source: 'aws.cloudwatch',
    'detail-type': ALARM_EVENT_DETAIL_TYPE,
    account: '123456789012',
    time: at.toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: { value: state, reason, timestamp: at.toISOString() },
      previousState: { value: state === 'ALARM' ? 'OK' : 'ALARM' },
      configuration: {
        metrics: [
          {
            id: 'canaryServerErrors',
            metricStat: {
              metric: {
                namespace: METRICS_NAMESPACE,
                name: INFERENCE_METRICS.variantServerErrors,
                dimensions: { service: METRICS_SERVICE, model, variant: 'canary' },
              },
              period: 60,
              stat: 'Sum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

export class CanaryAlarms {
  private readonly states = new Map<string, 'OK' | 'ALARM'>();
  private readonly timer: NodeJS.Timeout;
  private readonly periodMs: number;
  private readonly clock: () => number;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: CanaryAlarmsOptions) {
    this.periodMs = (options.periodSeconds ?? 60) * 1000;
    this.clock = options.clock ?? Date.now;
    this.timer = setInterval(() => this.evaluate(), options.evaluateEveryMs ?? 1000);
    this.timer.unref();
  }

  /** One evaluation of every alarm (the timer calls this; tests may too). */
  evaluate(): void {
    const now = this.clock();
    for (const model of this.options.models) {
      const errors = this.options.metrics.serverErrors(model, 'canary', now - this.periodMs, now);
      const state = errors > 0 ? 'ALARM' : 'OK';
      if ((this.states.get(model) ?? 'OK') === state) continue;
      this.states.set(model, state);
      this.options.log?.(
        `alarm      ${canaryAlarmName(model)} -> ${state}${state === 'ALARM' ? ` (${errors} canary server error(s) in ${this.periodMs / 1000} s)` : ''}`,
      );
      if (state !== 'ALARM') continue;
      const reason = `Threshold Crossed: ${errors} canary server error(s) in the last ${this.periodMs / 1000} s, greater than the threshold (0.0)`;
      const delivered = this.options.onAlarm(canaryAlarmEvent(model, 'ALARM', reason, new Date(now))).then(
        () => undefined,
        (error: unknown) =>
          this.options.log?.(
            `alarm      ${canaryAlarmName(model)}: the abort failed: ${error instanceof Error ? error.message : String(error)}`,
          ),
      );
      this.pending.add(delivered);
      void delivered.finally(() => this.pending.delete(delivered));
    }
  }

  /** The alarm's current state. */
  state(model: string): 'OK' | 'ALARM' {
    return this.states.get(model) ?? 'OK';
  }

  /** Stops evaluating; waits for aborts already sent. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
  }
}
