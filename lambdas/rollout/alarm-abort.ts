import { z } from 'zod';
import type { RolloutDeps } from './deps';

/**
 * The canary rollback alarm, as EventBridge delivers its state change ("CloudWatch Alarm State
 * Change", lib/constructs/rollout.ts): the model comes from the alarm's metric dimensions
 * (VariantServerErrors{service, model, variant=canary}), so alarm names stay CloudFormation's.
 */
export const ALARM_EVENT_DETAIL_TYPE = 'CloudWatch Alarm State Change';

const alarmEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal(ALARM_EVENT_DETAIL_TYPE),
  resources: z.array(z.string()).optional(),
  detail: z.object({
    alarmName: z.string(),
    state: z.object({ value: z.string(), reason: z.string().optional(), timestamp: z.string().optional() }),
    configuration: z
      .object({
        metrics: z
          .array(
            z.object({
              metricStat: z
                .object({
                  metric: z.object({
                    name: z.string().optional(),
                    dimensions: z.record(z.string(), z.string()).optional(),
                  }),
                })
                .optional(),
            }),
          )
          .optional(),
      })
      .optional(),
  }),
});
export type AlarmStateChange = z.infer<typeof alarmEventSchema>;

/** The event is not one of the rollback alarms' (no canary metric with a model dimension). */
export class AlarmEventError extends Error {
  override readonly name = 'AlarmEventError';
}

export function isAlarmEvent(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as Record<string, unknown>)['detail-type'] === ALARM_EVENT_DETAIL_TYPE
  );
}

export function parseAlarmEvent(event: unknown): AlarmStateChange {
  const parsed = alarmEventSchema.safeParse(event);
  if (!parsed.success)
    throw new AlarmEventError(
      `not a CloudWatch alarm state change: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** The model whose canary the alarm watches: the `model` dimension of its canary metric. */
export function alarmModel(event: AlarmStateChange): string {
  const metrics = event.detail.configuration?.metrics ?? [];
  const model = metrics
    .map((m) => m.metricStat?.metric.dimensions)
    .find((d) => d?.variant === 'canary' && d.model)?.model;
  if (!model)
    throw new AlarmEventError(
      `alarm ${event.detail.alarmName} watches no metric with dimensions model and variant=canary: not a canary rollback alarm`,
    );
  return model;
}

export type AlarmAbortResult =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'aborted' | 'no-canary'; readonly model: string; readonly reason: string };

/**
 * Takes the model's canary out (whichever rollout it belongs to: the alarm watches the variant,
 * not a version) with a reason naming the alarm. Only a change into ALARM acts; OK and
 * INSUFFICIENT_DATA are ignored. The rollout's execution sees the abort at its next judgement.
 */
export async function alarmAbort(event: unknown, deps: RolloutDeps): Promise<AlarmAbortResult> {
  const alarm = parseAlarmEvent(event);
  const { alarmName, state } = alarm.detail;
  if (state.value !== 'ALARM')
    return { status: 'ignored', reason: `alarm ${alarmName} went to ${state.value}: only ALARM aborts a canary` };
  const model = alarmModel(alarm);
  const reason = `alarm ${alarmName} went to ALARM${state.timestamp ? ` at ${state.timestamp}` : ''}: ${state.reason ?? 'the canary answered with server errors'}`;
  const result = await deps.routing.abortCanary(model, { actor: `alarm:${alarmName}`, reason });
  return { status: result.aborted ? 'aborted' : 'no-canary', model, reason };
}
