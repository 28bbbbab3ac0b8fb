import { describeStep, type JudgedWindow, type JudgeResult, type RolloutState } from '../../core/rollout/contract';
import { judgeStep } from '../../core/rollout/live-gate';
import type { RolloutDeps } from './deps';

/**
 * Judges the step in force on the window since it started: the canary against the champion
 * (core/rollout/live-gate.ts). A step at 100% leaves the champion no traffic, so its baseline is
 * the champion's own traffic before this step: since the canary started (the earlier steps), or
 * the bake before it when the plan starts at 100%. If the routing document's canary is no
 * longer this rollout (aborted by an operator or an alarm, promoted by hand, replaced), the
 * execution ends as aborted, saying who ended it and why.
 */
export async function judge(rollout: RolloutState, deps: RolloutDeps): Promise<JudgeResult> {
  const ended = await endedElsewhere(rollout, deps);
  if (ended !== undefined) return { status: 'aborted', reason: ended, rollout };

  const until = deps.clock();
  const since = new Date(rollout.stepStartedAt);
  const measured = await deps.metrics.window(rollout.model, since, until);
  let champion = measured.champion;
  let championBaseline: JudgedWindow['championBaseline'];
  if (rollout.weight >= 100) {
    const started = new Date(rollout.startedAt);
    const baselineSince = started < since ? started : new Date(since.getTime() - rollout.plan.bakeSeconds * 1000);
    champion = (await deps.metrics.window(rollout.model, baselineSince, since)).champion;
    championBaseline = { since: baselineSince.toISOString(), until: since.toISOString() };
  }
  const verdict = judgeStep(measured.canary, champion, rollout.plan);
  const lastStep = rollout.step >= rollout.plan.steps.length - 1;
  const extensionsLeft = rollout.extensions < rollout.plan.maxExtensions;
  const baselineNote = championBaseline
    ? ` (champion measured before this step, ${championBaseline.since} to ${championBaseline.until}: at 100% it serves nobody)`
    : '';
  return {
    status: verdict.verdict,
    reason: `${describeStep(rollout)} of rollout ${rollout.rolloutId}, canary v${rollout.version}: ${verdict.reason}${baselineNote}`,
    rollout:
      verdict.verdict === 'insufficient' && extensionsLeft
        ? { ...rollout, extensions: rollout.extensions + 1 }
        : rollout,
    lastStep,
    extensionsLeft,
    checks: verdict.checks,
    window: {
      since: since.toISOString(),
      until: until.toISOString(),
      canary: measured.canary,
      champion,
      ...(championBaseline ? { championBaseline } : {}),
    },
  };
}

/** Why this rollout is no longer the document's canary (who changed it and why), or undefined while it is. */
async function endedElsewhere(rollout: RolloutState, deps: RolloutDeps): Promise<string | undefined> {
  const current = (await deps.routing.read(rollout.model))?.document;
  if (current?.canary?.rolloutId === rollout.rolloutId) return undefined;
  const history = await deps.routing.history(rollout.model);
  const last = history
    .filter((c) => c.rolloutId === rollout.rolloutId && (c.action === 'canary-abort' || c.action === 'canary-promote'))
    .at(-1);
  if (last)
    return `rollout ${rollout.rolloutId} (canary v${rollout.version}) was ended elsewhere: ${last.action} by ${last.actor} at ${last.at}: ${last.reason}`;
  const now = current?.canary ? `the canary is now rollout ${current.canary.rolloutId}` : 'there is no canary';
  return `rollout ${rollout.rolloutId} (canary v${rollout.version}) is no longer the canary of ${rollout.model}: ${now}`;
}
