import type { ModelRegistry } from './registry';
import { DEFAULT_ROLLOUT_PLAN, type RolloutPlan, type RoutingChange, type RoutingDocument } from './routing';
import {
  percentProblem,
  planProblem,
  RolloutAbortedError,
  RoutingConflictError,
  RoutingRefusedError,
  type RoutingStore,
} from './routing-store';
import { DEFAULT_ALIAS, type AliasMove } from './types';

/**
 * The registry CLI's canary and shadow commands (cli.ts parses the arguments and dispatches
 * here). A leaf module: what it needs from cli.ts (printing, usage errors, tables) is passed in.
 */

export const ROUTING_USAGE = `  canary start <model> <version> (--weight <pct> | --plan <w1,w2,...>)
               [--bake <600|10m|1h>] [--min-requests n] [--reason r]
                                         send a share of callers to the version: a fixed --weight, or a
                                         --plan the rollout state machine steps through (bake = time per step)
  canary status <model>                  the routing document and the recent routing changes
  canary promote <model> [--reason r]    make the canary the champion (only over the champion it started on)
  canary abort <model> [--reason r]      stop the canary now; challenger points at its version
  shadow start <model> <version> [--sample <pct>] [--reason r]
                                         also score a share of requests (default 100) with the version
  shadow stop <model> [--reason r]       stop the shadow`;

/** parseArgs options of the routing commands (merged into cli.ts's). */
export const ROUTING_OPTIONS = {
  weight: { type: 'string' },
  plan: { type: 'string' },
  bake: { type: 'string' },
  'min-requests': { type: 'string' },
  sample: { type: 'string' },
} as const;

type RoutingOption = keyof typeof ROUTING_OPTIONS;
const OWNER: Record<RoutingOption, string> = {
  weight: 'canary start',
  plan: 'canary start',
  bake: 'canary start',
  'min-requests': 'canary start',
  sample: 'shadow start',
};
/** Options of the other commands, refused here rather than silently ignored. */
const FOREIGN = ['alias', 'parent', 'at', 'allow-schema-change'] as const;
const RECENT_CHANGES = 10;

export type CliValues = Readonly<Record<string, string | boolean | undefined>>;

export interface RoutingCliContext {
  readonly routing: RoutingStore;
  readonly registry: ModelRegistry;
  readonly actor: string;
  readonly values: CliValues;
  readonly print: (json: unknown, text: string) => void;
  readonly usage: (message: string) => Error;
  readonly table: (header: string[], rows: string[][]) => string;
}

export const isRoutingCommand = (command: string | undefined): command is 'canary' | 'shadow' =>
  command === 'canary' || command === 'shadow';

/** An error of the routing commands that is an answer, not a crash: exit 1 (refused, or not what the state allows). */
export const isRoutingRefusal = (error: unknown): error is Error =>
  error instanceof RoutingRefusedError || error instanceof RoutingConflictError || error instanceof RolloutAbortedError;

/** Why the routing options given do not belong to the command (undefined when they do). */
export function misplacedOption(command: string, values: CliValues): string | undefined {
  const given = (Object.keys(ROUTING_OPTIONS) as RoutingOption[]).find(
    (o) => values[o] !== undefined && OWNER[o] !== command,
  );
  if (given) return `--${given} is an option of ${OWNER[given]}, not of ${command}`;
  const foreign = isRoutingCommand(command.split(' ')[0])
    ? FOREIGN.find((o) => values[o] !== undefined && values[o] !== false)
    : undefined;
  return foreign && `--${foreign} is not an option of ${command}`;
}

/** "600", "600s", "10m", "1h" -> seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9][0-9]*)([smh]?)$/.exec(text.trim());
  return match ? Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600 }[match[2] as '' | 's' | 'm' | 'h'] : undefined;
}

const duration = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600}h` : seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
const v = (version: number | null | undefined) => (version === null || version === undefined ? '-' : `v${version}`);

function describeCanary(document: RoutingDocument): string | undefined {
  const c = document.canary;
  if (!c) return undefined;
  const plan = c.plan
    ? `, step ${(c.step ?? 0) + 1} of ${c.plan.steps.join(',')}% (bake ${duration(c.plan.bakeSeconds)}, at least ${c.plan.minRequests} requests per variant)`
    : ', manual';
  return `canary: v${c.version} at ${c.weight}% of callers (rollout ${c.rolloutId}${plan}), over champion ${v(document.champion)}, since ${c.startedAt}`;
}

/** What a routing change did, for the history's "to" column: "v4 canary 10%", "v5 shadow off". */
function routedTo(change: RoutingChange): string {
  switch (change.action) {
    case 'canary-start':
    case 'canary-weight':
      return `v${change.version} canary ${change.weight ?? '?'}%`;
    case 'canary-abort':
      return `v${change.version} canary off`;
    case 'canary-promote':
      return `v${change.version} champion`;
    case 'shadow-start':
      return `v${change.version} shadow ${change.sample ?? '?'}%`;
    case 'shadow-stop':
      return `v${change.version} shadow off`;
  }
}

export type HistoryEntry = AliasMove | (RoutingChange & { readonly kind: 'routing' });

/** Alias moves and routing changes in one timeline (a move first when both have one instant). */
export function mergeHistory(moves: readonly AliasMove[], changes: readonly RoutingChange[]): HistoryEntry[] {
  const entries: { at: string; entry: HistoryEntry }[] = [
    ...moves.map((m) => ({ at: m.movedAt, entry: m })),
    ...changes.map((c) => ({ at: c.at, entry: { ...c, kind: 'routing' as const } })),
  ];
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).map((e) => e.entry);
}

/** A routing change as a row of the history table: the alias column says "(routing)", "from" is the champion it was made over. */
export function routingRow(change: RoutingChange): string[] {
  const rollout = change.rolloutId ? ` (rollout ${change.rolloutId})` : '';
  return [
    change.at,
    '(routing)',
    change.action,
    v(change.champion),
    routedTo(change),
    change.actor,
    `${change.reason}${rollout}`,
  ];
}

function changesTable(ctx: RoutingCliContext, changes: readonly RoutingChange[]): string {
  if (changes.length === 0) return '(no routing changes yet)';
  return ctx.table(
    ['time', 'change', 'champion', 'to', 'actor', 'reason'],
    changes.map((c) => routingRow(c).filter((_, i) => i !== 1)),
  );
}

function positiveNumber(
  ctx: RoutingCliContext,
  text: string | undefined,
  what: string,
  check: (n: number) => string | undefined,
): number {
  const value = Number(text);
  const problem =
    text === undefined || text.trim() === '' || Number.isNaN(value)
      ? `${what} must be a number, got "${text ?? ''}"`
      : check(value);
  if (problem) throw ctx.usage(problem);
  return value;
}

/** The plan --plan, --bake and --min-requests describe (the defaults for the rest), or undefined for a manual canary. */
function planFrom(ctx: RoutingCliContext): RolloutPlan | undefined {
  const str = (o: RoutingOption) => (typeof ctx.values[o] === 'string' ? (ctx.values[o] as string) : undefined);
  const [weight, steps, bake, min] = [str('weight'), str('plan'), str('bake'), str('min-requests')];
  if ((weight === undefined) === (steps === undefined))
    throw ctx.usage(
      'canary start needs either --weight <pct> (a manual canary) or --plan <w1,w2,...> (a rollout), not both',
    );
  if (steps === undefined) {
    if (bake !== undefined || min !== undefined)
      throw ctx.usage('--bake and --min-requests go with --plan: a --weight canary stays where it is put');
    return undefined;
  }
  const bakeSeconds = bake === undefined ? DEFAULT_ROLLOUT_PLAN.bakeSeconds : parseDuration(bake);
  if (bakeSeconds === undefined) throw ctx.usage(`--bake must be seconds or a duration like 10m or 1h, got "${bake}"`);
  const minRequests =
    min === undefined
      ? DEFAULT_ROLLOUT_PLAN.minRequests
      : positiveNumber(ctx, min, '--min-requests', (n) =>
          Number.isInteger(n) && n >= 1 ? undefined : `--min-requests must be a positive whole number, got "${min}"`,
        );
  const weights = steps
    .split(',')
    .map((w) => positiveNumber(ctx, w, '--plan weights', (n) => percentProblem('--plan weights', n)));
  const plan = { ...DEFAULT_ROLLOUT_PLAN, steps: weights, bakeSeconds, minRequests };
  const problem = planProblem(plan);
  if (problem) throw ctx.usage(problem);
  return plan;
}

async function status(ctx: RoutingCliContext, model: string): Promise<void> {
  const [current, resolved, history] = await Promise.all([
    ctx.routing.read(model),
    ctx.registry.resolveAlias(model, DEFAULT_ALIAS),
    ctx.routing.history(model),
  ]);
  const champion = typeof resolved === 'object' ? resolved.record.version : null;
  // Says "unknown model" for a model with no versions rather than "no canary".
  if (champion === null && !current) await ctx.registry.listVersions(model);
  const document = current?.document;
  const recent = history.slice(-RECENT_CHANGES);
  const lines = [`${model}: champion ${v(champion)}`];
  const canary = document && describeCanary(document);
  if (canary) lines.push(canary);
  if (document?.canary && document.champion !== champion)
    lines.push(`  the champion has moved since the canary started: promoting it will be refused; abort it`);
  if (document?.shadow)
    lines.push(
      `shadow: v${document.shadow.version} scoring ${document.shadow.sample}% of requests, since ${document.shadow.startedAt}`,
    );
  if (!document?.canary && !document?.shadow) lines.push('no canary, no shadow: the champion answers every request');
  if (document) lines.push(`last change: ${document.updatedAt} by ${document.actor}: ${document.reason}`);
  lines.push('', `recent routing changes (last ${RECENT_CHANGES}):`, changesTable(ctx, recent));
  ctx.print({ model, champion, routing: document ?? null, history: recent }, lines.join('\n'));
}

/** Runs `canary <sub> ...` or `shadow <sub> ...`; returns the exit code. */
export async function runRoutingCommand(
  command: 'canary' | 'shadow',
  args: readonly string[],
  ctx: RoutingCliContext,
): Promise<number> {
  const [sub, ...rest] = args;
  const name = `${command} ${sub ?? ''}`.trim();
  const arg = (i: number, what: string) => {
    const value = rest[i];
    if (value === undefined) throw ctx.usage(`${name} needs <${what}>`);
    return value;
  };
  const version = (i: number) =>
    positiveNumber(ctx, arg(i, 'version'), '<version>', (n) =>
      Number.isInteger(n) && n >= 1 ? undefined : `<version> must be a positive whole number, got "${rest[i]}"`,
    );
  const misplaced = misplacedOption(name, ctx.values);
  if (misplaced) throw ctx.usage(misplaced);
  const reason = typeof ctx.values.reason === 'string' ? ctx.values.reason : `${name} with the registry CLI`;
  const who = { actor: ctx.actor, reason };
  switch (name) {
    case 'canary start': {
      const [model, n, plan] = [arg(0, 'model'), version(1), planFrom(ctx)];
      const weight = plan
        ? undefined
        : positiveNumber(ctx, ctx.values.weight as string, '--weight', (w) => percentProblem('--weight', w));
      const document = await ctx.routing.startCanary(model, n, { ...who, weight, plan });
      const how = plan
        ? `; the rollout moves it through ${plan.steps.join(',')}%, ${duration(plan.bakeSeconds)} per step`
        : '';
      ctx.print(
        document,
        `canary of ${model}: v${n} at ${document.canary?.weight}% of callers (rollout ${document.canary?.rolloutId}), champion ${v(document.champion)}${how}`,
      );
      return 0;
    }
    case 'canary status':
      await status(ctx, arg(0, 'model'));
      return 0;
    case 'canary promote': {
      const model = arg(0, 'model');
      const promoted = await ctx.routing.promoteCanary(model, who);
      ctx.print(
        promoted,
        `champion of ${model}: ${v(promoted.previousChampion)} -> v${promoted.version} (canary promoted)`,
      );
      return 0;
    }
    case 'canary abort': {
      const model = arg(0, 'model');
      const result = await ctx.routing.abortCanary(model, who);
      const challenger = result.aborted ? await ctx.registry.resolveAlias(model, 'challenger') : undefined;
      const text =
        typeof challenger === 'object'
          ? `canary v${challenger.record.version} of ${model} aborted: champion ${v(result.document?.champion)} answers every caller; challenger -> v${challenger.record.version}`
          : `${model} has no canary running: nothing to abort`;
      ctx.print(result, text);
      return 0;
    }
    case 'shadow start': {
      const model = arg(0, 'model');
      const n = version(1);
      const sample =
        ctx.values.sample === undefined
          ? undefined
          : positiveNumber(ctx, ctx.values.sample as string, '--sample', (s) => percentProblem('--sample', s));
      const document = await ctx.routing.startShadow(model, n, { ...who, sample });
      ctx.print(
        document,
        `shadow of ${model}: v${n} also scores ${document.shadow?.sample}% of requests (answers still come from champion ${v(document.champion)})`,
      );
      return 0;
    }
    case 'shadow stop': {
      const model = arg(0, 'model');
      const stopped = (await ctx.routing.read(model))?.document.shadow;
      const document = await ctx.routing.stopShadow(model, who);
      ctx.print(document, `shadow ${v(stopped?.version)} of ${model} stopped`);
      return 0;
    }
    default:
      throw ctx.usage(sub === undefined ? `${command} needs a subcommand` : `unknown command "${name}"`);
  }
}
