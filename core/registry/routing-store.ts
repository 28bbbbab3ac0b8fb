import { randomBytes } from 'node:crypto';
import type { ModelManifest } from '../manifest';
import { type ObjectStore, PreconditionFailedError } from '../object-store';
import { AliasMovedError } from './aliases';
import { isValidName } from './keys';
import { CorruptRecordError, encodeJson } from './records';
import type { ModelRegistry } from './registry';
import {
  type CanaryRoute,
  CorruptRoutingError,
  decodeRouting,
  type RolloutPlan,
  rolloutPlanSchema,
  type RolloutRequest,
  rolloutRequestKey,
  type RoutingChange,
  routingChangeSchema,
  type RoutingDocument,
  routingHistoryKey,
  routingHistoryPrefix,
  routingKey,
  type ShadowRoute,
} from './routing';
import { describeSchemaDiff, differingParts, diffSchemas, schemasDiffer } from './schema-diff';
import { DEFAULT_ALIAS, type ModelValidator, RegistrationError, UnknownModelError } from './types';
import { sha256Hex } from '../hash';

/**
 * The writes of the routing document (routing.ts has the layout and the pure rules). Same
 * discipline as the aliases: read with the ETag, decide, write with If-Match (If-None-Match:*
 * when there is none yet); a lost race reads again and decides again from what is there now.
 * Every change that lands adds one immutable object to routing-history/.
 * (Longer than ~300 lines on purpose: the operations share the write loop and the candidate
 * checks, which would otherwise have to be exported for a second file.)
 */

/** The request does not fit the current state (a canary already runs, nothing to act on) or lost every retry. */
export class RoutingConflictError extends Error {
  override readonly name = 'RoutingConflictError';
}

/** The rollout this caller drives (its rolloutId) is no longer the document's canary: aborted, promoted or replaced. */
export class RolloutAbortedError extends Error {
  override readonly name = 'RolloutAbortedError';
}

/** The version cannot be a canary or shadow: unknown, the champion, no champion yet, another schema, or it does not load. */
export class RoutingRefusedError extends Error {
  override readonly name = 'RoutingRefusedError';
}

export interface RoutingActor {
  readonly actor: string;
  readonly reason: string;
}

/** Enough for a handful of writers racing on one document (like MOVE_ATTEMPTS for aliases). */
const CHANGE_ATTEMPTS = 10;
/** An abort must land whatever else is writing: it retries longer, and sooner. */
const ABORT_ATTEMPTS = 100;
/** How many names of each kind of schema difference a refusal lists. */
const LISTED_DIFFERENCES = 10;
const READ_CONCURRENCY = 16;

/** Why a canary weight or shadow sample is not usable, or undefined. */
export function percentProblem(what: string, value: number): string | undefined {
  return Number.isFinite(value) && value > 0 && value <= 100
    ? undefined
    : `${what} must be a percentage above 0 and at most 100, got ${value}`;
}

/** Why a rollout plan is not usable (the schema, and weights that only go up), or undefined. */
export function planProblem(plan: RolloutPlan): string | undefined {
  const parsed = rolloutPlanSchema.safeParse(plan);
  if (!parsed.success)
    return `the rollout plan is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`;
  const down = plan.steps.findIndex((w, i) => i > 0 && w <= plan.steps[i - 1]);
  return down === -1 ? undefined : `the rollout plan's steps must go up, got ${plan.steps.join(', ')}`;
}

/**
 * `<model>-<yyyymmddThhmmssZ>-<6 hex>`, at most 80 characters (routing.ts): the model name is cut
 * to 56 characters; the time and the random part keep rollouts apart.
 */
function newRolloutId(model: string, now: Date): string {
  const compact = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${model.slice(0, 56)}-${compact}-${randomBytes(3).toString('hex')}`;
}

/** Now, but strictly after the document's last change, so history keys sort in the order the writes landed. */
function nextChangeTime(now: Date, previous: RoutingDocument | undefined): string {
  const after = previous ? Date.parse(previous.updatedAt) + 1 : -Infinity;
  return new Date(Math.max(now.getTime(), after)).toISOString();
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * ms));

/** The next state of the document (routes and champion) and what the history says about the change. */
interface Edit {
  readonly champion: number | null;
  readonly canary?: CanaryRoute;
  readonly shadow?: ShadowRoute;
  /** `champion`: the one the change was made over, when that is not the document's (a promotion's). */
  readonly change: Pick<RoutingChange, 'action' | 'version'> &
    Partial<Pick<RoutingChange, 'rolloutId' | 'weight' | 'sample' | 'champion'>>;
}

export class RoutingStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ModelRegistry,
    private readonly validator: ModelValidator,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The document and its ETag, or undefined when the model has none; CorruptRoutingError when it cannot be used. */
  async read(model: string): Promise<{ document: RoutingDocument; etag: string } | undefined> {
    if (!isValidName(model)) return undefined;
    const key = routingKey(model);
    const object = await this.store.get(key);
    if (!object) return undefined;
    const document = decodeRouting(object.body, key);
    if (document.model !== model)
      throw new CorruptRoutingError(`${key} is the routing document of "${document.model}", not "${model}"`);
    return { document, etag: object.etag };
  }

  /**
   * Starts a canary: a manual one at `weight`, or one a rollout state machine drives through
   * `plan` (weight = its first step; the RolloutRequest written after the document starts it).
   */
  async startCanary(
    model: string,
    version: number,
    opts: { weight?: number; plan?: RolloutPlan } & RoutingActor,
  ): Promise<RoutingDocument> {
    const { plan } = opts;
    const weight = plan ? plan.steps[0] : opts.weight;
    const problem = plan
      ? planProblem(plan)
      : weight === undefined
        ? 'a canary needs a weight or a rollout plan'
        : percentProblem('the canary weight', weight);
    if (problem !== undefined || weight === undefined) throw new RangeError(problem);
    // Cheap checks first: a refusal should not wait for the model to load.
    this.refuseSecondCanary((await this.read(model))?.document);
    const manifest = await this.checkCandidate(model, version, 'canary');
    const startedAt = this.clock().toISOString();
    const rolloutId = newRolloutId(model, this.clock());
    const canary: CanaryRoute = { rolloutId, version, weight, ...(plan ? { plan, step: 0 } : {}), startedAt };
    const { document } = await this.write(model, opts, CHANGE_ATTEMPTS, async (current) => {
      this.refuseSecondCanary(current);
      const champion = await this.checkAgainstChampion(model, version, manifest, 'canary');
      return {
        champion,
        canary,
        shadow: current?.shadow,
        change: { action: 'canary-start', version, rolloutId, weight },
      };
    });
    if (!document || document.champion === null)
      throw new Error('unreachable: a canary start always writes, over a champion');
    if (plan) {
      // After the document: the state machine this object starts finds its canary in place. Without
      // the request nothing would judge the canary, so a failed write takes it out again.
      try {
        await this.requestRollout(model, document, opts);
      } catch (error) {
        await this.abortCanary(
          model,
          {
            actor: opts.actor,
            reason: `the rollout request could not be written: ${error instanceof Error ? error.message : String(error)}`,
          },
          { rolloutId },
        );
        throw error;
      }
    }
    return document;
  }

  /**
   * Writes the rollout request of the document's planned canary (what starts its state machine),
   * once: an existing request is left as it is. For a retried start that may have died between the
   * document and the request.
   */
  async requestRollout(model: string, document: RoutingDocument, who: RoutingActor): Promise<void> {
    const { canary, champion } = document;
    if (!canary?.plan || champion === null)
      throw new RoutingConflictError(
        `the routing document of "${model}" has no planned canary over a champion to request a rollout for`,
      );
    const request: RolloutRequest = {
      model,
      rolloutId: canary.rolloutId,
      version: canary.version,
      champion,
      plan: canary.plan,
      requestedAt: document.updatedAt,
      actor: who.actor,
      reason: who.reason,
    };
    try {
      await this.store.put(rolloutRequestKey(model, canary.rolloutId), encodeJson(request), {
        condition: { ifNoneMatch: '*' },
        contentType: 'application/json',
      });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }

  /** Puts the plan's step `step` in force (what the rollout state machine calls between bakes). */
  async setCanaryWeight(model: string, rolloutId: string, step: number, who: RoutingActor): Promise<RoutingDocument> {
    const { document } = await this.write(model, who, CHANGE_ATTEMPTS, async (current) => {
      const canary = this.ownCanary(model, current, rolloutId);
      if (!canary.plan)
        throw new RoutingConflictError(`the canary of ${model} (rollout ${rolloutId}) is manual: it has no plan steps`);
      const weight = canary.plan.steps[step];
      if (weight === undefined)
        throw new RoutingConflictError(
          `the plan of rollout ${rolloutId} has steps 0-${canary.plan.steps.length - 1}, not ${step}`,
        );
      if (canary.step === step && canary.weight === weight) return 'unchanged';
      return {
        champion: current?.champion ?? null,
        canary: { ...canary, weight, step },
        shadow: current?.shadow,
        change: { action: 'canary-weight', version: canary.version, rolloutId, weight },
      };
    });
    if (!document) throw new Error('unreachable: a canary was found, so the document exists');
    return document;
  }

  /**
   * Makes the canary the champion, only over the champion it was started against (else the
   * registry's AliasMovedError), then takes the canary out of the document. If an abort lands
   * in between, the abort wins: the champion goes back and this throws RolloutAbortedError.
   */
  async promoteCanary(
    model: string,
    who: RoutingActor,
    opts: { rolloutId?: string } = {},
  ): Promise<{ version: number; previousChampion: number | null; document: RoutingDocument }> {
    const current = (await this.read(model))?.document;
    const canary = this.canaryToActOn(model, current, opts.rolloutId, 'promote');
    const previousChampion = current?.champion ?? null;
    const { version } = canary;
    await this.registry.promote(model, version, { ...who, ifCurrentVersion: previousChampion });
    const { document } = await this.write(model, who, CHANGE_ATTEMPTS, async (now) => {
      if (now?.canary?.rolloutId !== canary.rolloutId) {
        await this.undoPromotion(model, version, previousChampion, {
          actor: who.actor,
          reason: `canary ${canary.rolloutId} was aborted while it was being promoted`,
        });
        throw new RolloutAbortedError(
          `the canary v${version} of ${model} (rollout ${canary.rolloutId}) was aborted or replaced while it was being promoted: the champion stays ${previousChampion === null ? 'unset' : `v${previousChampion}`}`,
        );
      }
      return {
        champion: version,
        shadow: now.shadow,
        change: { action: 'canary-promote', version, rolloutId: canary.rolloutId, champion: previousChampion },
      };
    });
    if (!document) throw new Error('unreachable: a canary promotion always writes');
    return { version, previousChampion, document };
  }

  /**
   * Takes the canary out (weight 0) whatever else is writing, and points `challenger` at its
   * version. A no-op (aborted: false) when there is no canary, or it is not rollout `rolloutId`.
   */
  async abortCanary(
    model: string,
    who: RoutingActor,
    opts: { rolloutId?: string } = {},
  ): Promise<{ aborted: boolean; document: RoutingDocument | undefined }> {
    let aborted: CanaryRoute | undefined;
    let startedOver: number | null = null;
    const { document, written } = await this.write(model, who, ABORT_ATTEMPTS, async (current) => {
      const canary = current?.canary;
      if (!canary || (opts.rolloutId !== undefined && canary.rolloutId !== opts.rolloutId)) return 'unchanged';
      [aborted, startedOver] = [canary, current.champion];
      // No other read here: the fewer round trips between read and write, the sooner an abort lands.
      return {
        champion: current.champion,
        shadow: current.shadow,
        change: { action: 'canary-abort', version: canary.version, rolloutId: canary.rolloutId, weight: 0 },
      };
    });
    if (!written || !aborted) return { aborted: false, document };
    const { version, rolloutId } = aborted;
    // A promotion racing this abort may have moved the champion to the canary already: undo it.
    const why = { actor: who.actor, reason: `canary ${rolloutId} aborted: ${who.reason}` };
    await this.undoPromotion(model, version, startedOver, why);
    await this.registry.promote(model, version, { alias: 'challenger', ...why });
    return { aborted: true, document };
  }

  /** Starts scoring a sample of requests with `version` too (its answers are never returned). */
  async startShadow(
    model: string,
    version: number,
    opts: { sample?: number } & RoutingActor,
  ): Promise<RoutingDocument> {
    const sample = opts.sample ?? 100;
    const problem = percentProblem('the shadow sample', sample);
    if (problem !== undefined) throw new RangeError(problem);
    this.refuseSecondShadow((await this.read(model))?.document);
    const manifest = await this.checkCandidate(model, version, 'shadow');
    const shadow: ShadowRoute = { version, sample, startedAt: this.clock().toISOString() };
    const { document } = await this.write(model, opts, CHANGE_ATTEMPTS, async (current) => {
      this.refuseSecondShadow(current);
      const champion = await this.checkAgainstChampion(model, version, manifest, 'shadow');
      return {
        champion: current?.canary ? current.champion : champion,
        canary: current?.canary,
        shadow,
        change: { action: 'shadow-start', version, sample },
      };
    });
    if (!document) throw new Error('unreachable: a shadow start always writes');
    return document;
  }

  async stopShadow(model: string, who: RoutingActor): Promise<RoutingDocument> {
    const { document } = await this.write(model, who, CHANGE_ATTEMPTS, async (current) => {
      if (!current?.shadow) throw new RoutingConflictError(`${model} has no shadow to stop`);
      const champion = current.canary ? current.champion : await this.liveChampion(model);
      return {
        champion,
        canary: current.canary,
        change: { action: 'shadow-stop', version: current.shadow.version, sample: 0 },
      };
    });
    if (!document) throw new Error('unreachable: a shadow was found, so the document exists');
    return document;
  }

  /** Every recorded change of the model's routing, oldest first. */
  async history(model: string): Promise<RoutingChange[]> {
    if (!isValidName(model)) return [];
    const keys = await this.store.list(routingHistoryPrefix(model));
    const changes: RoutingChange[] = [];
    for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
      const batch = await Promise.all(
        keys.slice(i, i + READ_CONCURRENCY).map(async (key) => ({ key, object: await this.store.get(key) })),
      );
      for (const { key, object } of batch) if (object) changes.push(decodeChange(object.body, key));
    }
    // Keys are time-ordered; sorting by `at` as well keeps the order if someone renamed one.
    return changes.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  /**
   * The conditional-write loop: read, decide (may throw, or leave the document as it is), write
   * with the ETag read; a lost race goes round again. The history object follows a landed write.
   */
  private async write(
    model: string,
    who: RoutingActor,
    attempts: number,
    decide: (current: RoutingDocument | undefined) => Promise<Edit | 'unchanged'>,
  ): Promise<{ document: RoutingDocument | undefined; written: boolean }> {
    const backoffMs = attempts > CHANGE_ATTEMPTS ? 5 : 20;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const current = await this.read(model);
      const edit = await decide(current?.document);
      if (edit === 'unchanged') return { document: current?.document, written: false };
      const at = nextChangeTime(this.clock(), current?.document);
      const document: RoutingDocument = {
        model,
        champion: edit.champion,
        ...(edit.canary ? { canary: edit.canary } : {}),
        ...(edit.shadow ? { shadow: edit.shadow } : {}),
        updatedAt: at,
        actor: who.actor,
        reason: who.reason,
      };
      try {
        await this.store.put(routingKey(model), encodeJson(document), {
          condition: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
          contentType: 'application/json',
        });
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        await pause(backoffMs * attempt);
        continue;
      }
      const change: RoutingChange = {
        model,
        champion: edit.champion,
        ...edit.change,
        at,
        actor: who.actor,
        reason: who.reason,
      };
      await this.store.put(routingHistoryKey(model, at, randomBytes(4).toString('hex')), encodeJson(change), {
        condition: { ifNoneMatch: '*' },
        contentType: 'application/json',
      });
      return { document, written: true };
    }
    throw new RoutingConflictError(
      `the routing document of ${model} kept being changed by others (${attempts} attempts); try again`,
    );
  }

  private refuseSecondCanary(document: RoutingDocument | undefined): void {
    const canary = document?.canary;
    if (canary)
      throw new RoutingConflictError(
        `${document.model} already has a canary: v${canary.version} at ${canary.weight}% (rollout ${canary.rolloutId}); abort it first`,
      );
  }

  private refuseSecondShadow(document: RoutingDocument | undefined): void {
    const shadow = document?.shadow;
    if (shadow)
      throw new RoutingConflictError(
        `${document.model} already has a shadow: v${shadow.version} scoring ${shadow.sample}% of requests; stop it first`,
      );
  }

  /** The canary rollout `rolloutId` drives; RolloutAbortedError when the document no longer has it. */
  private ownCanary(model: string, document: RoutingDocument | undefined, rolloutId: string): CanaryRoute {
    const canary = document?.canary;
    if (canary?.rolloutId === rolloutId) return canary;
    const now = canary ? `the canary is now rollout ${canary.rolloutId}` : 'there is no canary';
    throw new RolloutAbortedError(
      `rollout ${rolloutId} of ${model} is no longer running (aborted, promoted or replaced): ${now}`,
    );
  }

  private canaryToActOn(
    model: string,
    document: RoutingDocument | undefined,
    rolloutId: string | undefined,
    what: string,
  ): CanaryRoute {
    if (rolloutId !== undefined) return this.ownCanary(model, document, rolloutId);
    if (!document?.canary) throw new RoutingConflictError(`${model} has no canary to ${what}`);
    return document.canary;
  }

  /** Moves the champion back from the aborted canary's version to the one it started over (if it is still there). */
  private async undoPromotion(
    model: string,
    canaryVersion: number,
    startedOver: number | null,
    who: RoutingActor,
  ): Promise<void> {
    if (startedOver === null || startedOver === canaryVersion) return;
    try {
      await this.registry.promote(model, startedOver, { ...who, ifCurrentVersion: canaryVersion });
    } catch (error) {
      // The champion is not the canary's version (any more): there is nothing to undo.
      if (!(error instanceof AliasMovedError)) throw error;
    }
  }

  private async liveChampion(model: string): Promise<number | null> {
    const resolved = await this.registry.resolveAlias(model, DEFAULT_ALIAS);
    return typeof resolved === 'object' ? resolved.record.version : null;
  }

  /** Everything that makes a version unfit to take traffic next to the champion; its manifest when fit. */
  private async checkCandidate(model: string, version: number, role: 'canary' | 'shadow'): Promise<ModelManifest> {
    if (!Number.isInteger(version) || version < 1)
      throw new RoutingRefusedError(`version must be a positive whole number, got ${version}`);
    let manifest: ModelManifest;
    let bytes: Uint8Array;
    try {
      manifest = await this.registry.getManifest(model, version);
      bytes = await this.registry.getModelBytes(model, version);
    } catch (error) {
      if (error instanceof UnknownModelError || error instanceof CorruptRecordError)
        throw new RoutingRefusedError(`${error.message}: it cannot be a ${role}`, { cause: error });
      throw error;
    }
    await this.checkAgainstChampion(model, version, manifest, role);
    const actual = sha256Hex(bytes);
    if (actual !== manifest.sha256)
      throw new RoutingRefusedError(
        `${model} v${version}'s model.onnx (sha256 ${actual.slice(0, 12)}) is not the file its manifest names (${manifest.sha256.slice(0, 12)}): it cannot be a ${role}`,
      );
    try {
      await this.validator.validate(bytes, manifest);
    } catch (error) {
      if (error instanceof RegistrationError)
        throw new RoutingRefusedError(`${model} v${version} fails to load: ${error.message}; it cannot be a ${role}`, {
          cause: error,
        });
      throw error;
    }
    return manifest;
  }

  /** The champion version, once the version is known not to be it and to share its schema. */
  private async checkAgainstChampion(
    model: string,
    version: number,
    manifest: ModelManifest,
    role: 'canary' | 'shadow',
  ): Promise<number> {
    const champion = await this.liveChampion(model);
    if (champion === null)
      throw new RoutingRefusedError(
        `${model} has no champion yet: a ${role} is compared with the champion, so promote a version first`,
      );
    if (champion === version)
      throw new RoutingRefusedError(`${model} v${version} is the champion: it cannot also be a ${role}`);
    const diff = diffSchemas(manifest, await this.registry.getManifest(model, champion));
    if (schemasDiffer(diff)) {
      throw new RoutingRefusedError(
        `${model} v${version}'s ${differingParts(diff)} differ from champion v${champion}'s: ${describeSchemaDiff(diff, LISTED_DIFFERENCES)}; the champion's clients would fail on it as a ${role}`,
      );
    }
    return champion;
  }
}

function decodeChange(body: Uint8Array, key: string): RoutingChange {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new CorruptRoutingError(`${key} is not JSON: ${(error as Error).message}`);
  }
  const parsed = routingChangeSchema.safeParse(value);
  if (!parsed.success)
    throw new CorruptRoutingError(
      `${key} is not a routing change: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
