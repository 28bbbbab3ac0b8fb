import { type ObjectStore, PreconditionFailedError } from '../object-store';
import { HistoryLog, nextMoveTime } from './history';
import { aliasKey } from './keys';
import { decodeAliasRecord, encodeJson } from './records';
import type { Actor, AliasMove, AliasRecord, SchemaChange } from './types';

/**
 * Moving an alias: read it with its ETag, decide where it goes, write it back only if nobody
 * moved it in between (If-Match, or If-None-Match:* when it is new); on a lost race decide again
 * from the new state. The move is then added to the history.
 */

/** An alias cannot be moved as asked (not set, nowhere to roll back to, or contended). */
export class AliasError extends Error {
  override readonly name = 'AliasError';
}

/**
 * The alias no longer points where the caller saw it (a conditional promotion: another run moved
 * the champion after this one compared its candidate with it). `current` is where it points now.
 */
export class AliasMovedError extends Error {
  override readonly name = 'AliasMovedError';

  constructor(
    readonly alias: string,
    readonly expected: number | null,
    readonly current: number | null,
  ) {
    super(
      `alias "${alias}" points at ${current === null ? 'nothing' : `v${current}`}, not ${expected === null ? 'nothing' : `v${expected}`} as the caller expected`,
    );
  }
}

export interface CurrentAlias {
  readonly record: AliasRecord;
  readonly etag: string;
}

/** Where to move the alias, given where it points now; `stay` leaves it as it is. A schema
 * change the move makes (accepted by the caller) is recorded on the alias and in the history. */
export type MovePlan =
  { readonly kind: AliasMove['kind']; readonly version: number; readonly schemaChange?: SchemaChange } | 'stay';

/** Enough to keep a handful of writers racing for one alias from failing each other. */
const MOVE_ATTEMPTS = 10;

const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));

export async function readAlias(store: ObjectStore, model: string, alias: string): Promise<CurrentAlias | undefined> {
  const key = aliasKey(model, alias);
  const object = await store.get(key);
  return object && { record: decodeAliasRecord(object.body, key), etag: object.etag };
}

export async function moveAlias(
  store: ObjectStore,
  target: { readonly model: string; readonly alias: string },
  plan: (current: CurrentAlias | undefined) => Promise<MovePlan>,
  who: Actor,
  clock: () => Date,
): Promise<AliasRecord> {
  const { model, alias } = target;
  const key = aliasKey(model, alias);
  for (let attempt = 1; attempt <= MOVE_ATTEMPTS; attempt++) {
    const current = await readAlias(store, model, alias);
    const decision = await plan(current);
    if (decision === 'stay') {
      if (!current) throw new AliasError(`alias "${alias}" of model "${model}" is not set`);
      return current.record;
    }
    const record: AliasRecord = {
      model,
      alias,
      version: decision.version,
      ...(current ? { previousVersion: current.record.version } : {}),
      movedAt: nextMoveTime(clock(), current?.record),
      actor: who.actor,
      reason: who.reason,
      ...(decision.schemaChange ? { schemaChange: decision.schemaChange } : {}),
    };
    try {
      await store.put(key, encodeJson(record), {
        condition: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
        contentType: 'application/json',
      });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      await pause(attempt);
      continue;
    }
    await new HistoryLog(store).append({ ...record, kind: decision.kind });
    return record;
  }
  throw new AliasError(
    `alias "${alias}" of model "${model}" kept being moved by others (${MOVE_ATTEMPTS} attempts); try again`,
  );
}
