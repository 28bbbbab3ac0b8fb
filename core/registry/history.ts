import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../object-store';
import { historyKey, historyPrefix } from './keys';
import { decodeAliasMove, encodeJson } from './records';
import type { AliasMove, AliasRecord } from './types';

/**
 * The alias history: one immutable object per move (no shared file to append to, so no append
 * races), and the pure rules that answer "what served at time T" and "where does a rollback go".
 */

const time = (iso: string) => Date.parse(iso);

/**
 * The time to stamp on a move: now, but strictly after the alias's previous move, so that the
 * order of an alias's history is the order its conditional writes succeeded in, even when two
 * moves land in one millisecond or the clocks of two writers disagree a little.
 */
export function nextMoveTime(now: Date, previous?: AliasRecord): string {
  const after = previous ? time(previous.movedAt) + 1 : -Infinity;
  return new Date(Math.max(now.getTime(), after)).toISOString();
}

function sortMoves(moves: readonly AliasMove[]): AliasMove[] {
  return [...moves].sort((a, b) => time(a.movedAt) - time(b.movedAt));
}

const sameMove = (a: AliasRecord, b: AliasRecord) =>
  a.alias === b.alias && a.version === b.version && a.movedAt === b.movedAt;

/**
 * The history completed with the alias's current record: its history object is written just
 * after the alias itself, so it can lag behind (or be missing, if the writer died in between).
 * The record does not say whether it was a rollback; it is taken as a promote.
 */
export function withCurrent(moves: readonly AliasMove[], current: AliasRecord | undefined): AliasMove[] {
  if (!current || moves.some((m) => sameMove(m, current))) return sortMoves(moves);
  const { model, alias, version, previousVersion, movedAt, actor, reason, schemaChange } = current;
  return sortMoves([
    ...moves,
    {
      model,
      alias,
      version,
      previousVersion,
      movedAt,
      actor,
      reason,
      ...(schemaChange ? { schemaChange } : {}),
      kind: 'promote',
    },
  ]);
}

/**
 * The versions an alias has served, as a stack: a promote pushes, a rollback pops back to the
 * version it returned to. Rolling back twice therefore goes two steps back through what served,
 * instead of swapping between the last two versions. Moves are one alias's, in time order.
 */
export function servedStack(moves: readonly AliasMove[]): number[] {
  const stack: number[] = [];
  for (const move of moves) {
    // A move starts from what the alias pointed at; if that is not on top, a move is missing
    // from the history: put its result back so the stack still mirrors what served.
    if (move.previousVersion !== undefined && stack.at(-1) !== move.previousVersion) stack.push(move.previousVersion);
    if (move.kind === 'rollback') {
      stack.pop();
      while (stack.length > 0 && stack.at(-1) !== move.version) stack.pop();
      if (stack.length === 0) stack.push(move.version);
    } else if (stack.at(-1) !== move.version) {
      stack.push(move.version);
    }
  }
  return stack;
}

/** Where a rollback of this alias goes: the version that served before the current one. */
export function rollbackTarget(moves: readonly AliasMove[]): number | undefined {
  const stack = servedStack(moves);
  return stack.length >= 2 ? stack[stack.length - 2] : undefined;
}

/** The version the alias pointed at, at that instant (undefined: it was not set yet). */
export function versionAt(moves: readonly AliasMove[], at: Date): number | undefined {
  let version: number | undefined;
  for (const move of sortMoves(moves)) {
    if (time(move.movedAt) > at.getTime()) break;
    version = move.version;
  }
  return version;
}

/** Runs `fn` over the items with at most `limit` in flight, keeping the order of the results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const READ_CONCURRENCY = 16;

export class HistoryLog {
  constructor(private readonly store: ObjectStore) {}

  /** Records a move that has already happened (the alias object is the source of truth). */
  async append(move: AliasMove): Promise<void> {
    const key = historyKey(move.model, move.movedAt, move.alias, randomBytes(4).toString('hex'));
    await this.store.put(key, encodeJson(move), { condition: { ifNoneMatch: '*' }, contentType: 'application/json' });
  }

  /** Every recorded move of the model (of one alias when given), oldest first. */
  async read(model: string, alias?: string): Promise<AliasMove[]> {
    const keys = await this.store.list(historyPrefix(model));
    const moves = await mapLimit(keys, READ_CONCURRENCY, async (key) => {
      const object = await this.store.get(key);
      return object ? decodeAliasMove(object.body, key) : undefined;
    });
    return sortMoves(
      moves.filter((m): m is AliasMove => m !== undefined && (alias === undefined || m.alias === alias)),
    );
  }
}
