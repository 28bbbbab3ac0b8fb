import { PreconditionFailedError } from '../../core/object-store';
import {
  type BeginResult,
  parseRolloutRequestKey,
  rolloutClaimKey,
  type RolloutStart,
  type RolloutState,
} from '../../core/rollout/contract';
import { rolloutRequestSchema } from '../../core/registry/routing';
import type { RolloutDeps } from './deps';

/** The rollout request object cannot be read as one: a broken writer, not a state to wait out. */
export class RolloutRequestError extends Error {
  override readonly name = 'RolloutRequestError';
}

interface Claim {
  readonly execution: string;
  readonly claimedAt: string;
}

/**
 * Checks that the request that started this execution is still the model's canary, and claims the
 * rollout for this execution (written once): S3 events are delivered at least once, and a second
 * execution for the same request, or one that starts after the rollout ended, must not drive it.
 * The same execution name again (a local restart) takes its own claim back and resumes at the
 * step the document is at.
 */
export async function begin(input: RolloutStart, execution: string, deps: RolloutDeps): Promise<BeginResult> {
  const superseded = (reason: string): BeginResult => ({ status: 'superseded', key: input.key, reason });
  const target = parseRolloutRequestKey(input.key);
  if (!target) return superseded(`${input.key} is not a rollout request (registry/<model>/rollouts/<rolloutId>.json)`);
  const object = await deps.store.get(input.key);
  if (!object) return superseded(`${input.key} no longer exists`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(object.body).toString('utf8'));
  } catch (error) {
    throw new RolloutRequestError(`${input.key} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = rolloutRequestSchema.safeParse(value);
  if (!parsed.success)
    throw new RolloutRequestError(
      `${input.key} is not a rollout request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  const request = parsed.data;
  if (request.model !== target.model || request.rolloutId !== target.rolloutId) {
    throw new RolloutRequestError(
      `${input.key} names rollout ${request.rolloutId} of ${request.model}, not the one its key says`,
    );
  }

  const current = await deps.routing.read(request.model);
  const canary = current?.document.canary;
  if (canary?.rolloutId !== request.rolloutId || !canary.plan) {
    const now = canary ? `its canary is rollout ${canary.rolloutId} (v${canary.version})` : 'it has no canary';
    return superseded(`rollout ${request.rolloutId} of ${request.model} is not running any more: ${now}`);
  }

  const claimKey = rolloutClaimKey(request.model, request.rolloutId);
  const claim: Claim = { execution, claimedAt: deps.clock().toISOString() };
  try {
    await deps.store.put(claimKey, JSON.stringify(claim), {
      condition: { ifNoneMatch: '*' },
      contentType: 'application/json',
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    const existing = await deps.store.get(claimKey);
    const owner = existing ? (JSON.parse(Buffer.from(existing.body).toString('utf8')) as Claim).execution : 'unknown';
    if (owner !== execution)
      return superseded(
        `rollout ${request.rolloutId} of ${request.model} is already driven by execution ${owner} (a repeated S3 event)`,
      );
  }

  const step = canary.step ?? 0;
  const rollout: RolloutState = {
    model: request.model,
    rolloutId: request.rolloutId,
    version: canary.version,
    champion: current?.document.champion ?? null,
    requestKey: input.key,
    plan: canary.plan,
    step,
    weight: canary.weight,
    extensions: 0,
    startedAt: canary.startedAt,
    // Resumed at a later step: the last change of the document is no earlier than that step's start.
    stepStartedAt: step === 0 ? canary.startedAt : (current?.document.updatedAt ?? canary.startedAt),
  };
  return { status: 'started', rollout };
}
