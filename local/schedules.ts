/**
 * Model specs' schedules, run locally where they can be: `rate(...)` expressions become timers
 * (EventBridge's rate semantics: the first run one period after the rule exists); `cron(...)`
 * expressions are left to AWS and reported as such.
 */

const UNIT_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** setInterval's limit (about 24.8 days); longer periods cannot be one timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The period of a `rate(value unit)` expression in milliseconds; undefined for anything else. */
export function ratePeriodMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  // EventBridge: "1 minute" but "5 minutes"; both spellings are accepted here.
  return value > 0 ? value * UNIT_MS[match[2].replace(/s$/, '')] : undefined;
}

export interface LocalSchedules {
  /** What could not be scheduled locally, and why. */
  readonly notes: readonly string[];
  stop(): void;
}

export function startSchedules(
  models: readonly { readonly name: string; readonly schedule?: string }[],
  run: (model: string) => void,
): LocalSchedules {
  const timers: NodeJS.Timeout[] = [];
  const notes: string[] = [];
  for (const { name, schedule } of models) {
    if (schedule === undefined) continue;
    const period = ratePeriodMs(schedule);
    if (period === undefined) {
      notes.push(`${name}: schedule ${schedule} runs in AWS only (cron expressions are not run locally)`);
      continue;
    }
    if (period > MAX_TIMER_MS) {
      notes.push(`${name}: schedule ${schedule} is longer than a local timer can wait; it runs in AWS only`);
      continue;
    }
    // unref: a pending schedule never keeps the process alive on its own.
    timers.push(setInterval(() => run(name), period).unref());
  }
  return { notes, stop: () => timers.forEach((t) => clearInterval(t)) };
}
