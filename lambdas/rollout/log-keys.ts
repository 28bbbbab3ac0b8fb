import type { LogKeys } from '../shared/logged-runner';

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/**
 * The rollout function's correlation keys: the step and execution of a state machine Task, and the
 * model and canary version from its rollout state (begin has only the request's key); an alarm
 * event is named by its alarm.
 */
export function rolloutLogKeys(event: unknown): LogKeys {
  const e = record(event);
  const input = record(e.input);
  const rollout = record(input.rollout);
  const alarm = record(e.detail).alarmName;
  const keys: Record<string, string | number | undefined> = {
    step: typeof e.step === 'string' ? e.step : typeof alarm === 'string' ? 'alarm-abort' : undefined,
    execution: typeof e.execution === 'string' ? e.execution : undefined,
    model: typeof rollout.model === 'string' ? rollout.model : undefined,
    version: typeof rollout.version === 'number' ? rollout.version : undefined,
    requestKey: typeof input.key === 'string' ? input.key : undefined,
    alarm: typeof alarm === 'string' ? alarm : undefined,
  };
  return Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined)) as LogKeys;
}
