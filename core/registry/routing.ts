/**
 * The routing document of a model: which versions besides the champion get traffic, and how.
 *
 *   registry/<model>/routing.json                          RoutingDocument; changed with If-Match / If-None-Match:*
 *   registry/<model>/routing-history/<iso-time>-<id>.json  RoutingChange, one object per change (like alias history)
 *   registry/<model>/rollouts/<rolloutId>.json             RolloutRequest, written once: starts the rollout state machine
 *
 * The champion itself stays the `champion` alias (the one truth of what serves by default); the
 * document records the champion it was written against, so promoting a canary is conditional on it.
 * No document, or one without canary and shadow, means: the champion serves everything.
 *
 * Pure: types, decoding, keys and the caller-to-variant assignment. The writes live in routing-store.ts.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { modelPrefix } from './keys';

export const routingKey = (model: string) => `${modelPrefix(model)}routing.json`;
export const routingHistoryPrefix = (model: string) => `${modelPrefix(model)}routing-history/`;
export const routingHistoryKey = (model: string, at: string, id: string) =>
  `${routingHistoryPrefix(model)}${at}-${id}.json`;
export const rolloutsPrefix = (model: string) => `${modelPrefix(model)}rollouts/`;
export const rolloutRequestKey = (model: string, rolloutId: string) => `${rolloutsPrefix(model)}${rolloutId}.json`;

/** Which version answered a request. A shadow never answers, so it is not a variant. */
export type Variant = 'champion' | 'canary';
export const VARIANTS: readonly Variant[] = ['champion', 'canary'];

/** Percent of callers (canary weight) or of requests (shadow sample) with 0.01 % resolution. */
const percent = z.number().min(0).max(100);

/**
 * How a rollout state machine moves a canary: weights in steps, each held for a bake time and
 * judged on live metrics against the champion before the next (docs/architecture.md, rollout gate).
 */
export const rolloutPlanSchema = z.strictObject({
  /** Canary weights (percent of callers), ascending; after the last one passes, the canary is promoted. */
  steps: z.array(z.number().gt(0).max(100)).min(1),
  /** How long each step serves before it is judged. */
  bakeSeconds: z.number().int().min(1),
  /** Requests each variant must have answered in the step before it is judged. */
  minRequests: z.number().int().min(1),
  /** A step that has not reached minRequests is extended by another bake, at most this many times; then the rollout aborts. */
  maxExtensions: z.number().int().min(0),
  /** Significance level of the tests (error rate: one-sided two-proportion z-test; classes: chi-square). */
  alpha: z.number().gt(0).lt(1),
  /** The canary's 5xx rate may exceed the champion's by this much (absolute, 0.01 = 1 point) before the test can fail it. */
  maxErrorRateIncrease: z.number().min(0).max(1),
  /** The canary's p99 latency may exceed the champion's by this share (0.2 = 20 %) plus 5 ms. */
  maxP99Increase: z.number().min(0),
});
export type RolloutPlan = z.infer<typeof rolloutPlanSchema>;

export const DEFAULT_ROLLOUT_PLAN: RolloutPlan = {
  steps: [10, 50, 100],
  bakeSeconds: 600,
  minRequests: 200,
  maxExtensions: 3,
  alpha: 0.01,
  maxErrorRateIncrease: 0.01,
  maxP99Increase: 0.2,
};

const canaryRouteSchema = z.strictObject({
  /** New for every canary start: the salt of the sticky assignment and the rollout's identity. */
  rolloutId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
  version: z.number().int().positive(),
  weight: percent,
  /** Present when a rollout state machine drives the canary; absent for a manual canary. */
  plan: rolloutPlanSchema.optional(),
  /** Index of the plan step whose weight is in force. */
  step: z.number().int().min(0).optional(),
  startedAt: z.string(),
});
export type CanaryRoute = z.infer<typeof canaryRouteSchema>;

const shadowRouteSchema = z.strictObject({
  version: z.number().int().positive(),
  /** Percent of requests the shadow also scores. */
  sample: percent,
  startedAt: z.string(),
});
export type ShadowRoute = z.infer<typeof shadowRouteSchema>;

export const routingDocumentSchema = z.strictObject({
  model: z.string(),
  /** The champion version when the document was written (the champion alias is what serves). */
  champion: z.number().int().positive().nullable(),
  canary: canaryRouteSchema.optional(),
  shadow: shadowRouteSchema.optional(),
  updatedAt: z.string(),
  actor: z.string(),
  reason: z.string(),
});
export type RoutingDocument = z.infer<typeof routingDocumentSchema>;

const ROUTING_ACTIONS = [
  'canary-start',
  'canary-weight',
  'canary-promote',
  'canary-abort',
  'shadow-start',
  'shadow-stop',
] as const;

/** One change of the routing document, kept in routing-history/ (who, when, why, what). */
export const routingChangeSchema = z.strictObject({
  model: z.string(),
  action: z.enum(ROUTING_ACTIONS),
  version: z.number().int().positive(),
  at: z.string(),
  actor: z.string(),
  reason: z.string(),
  rolloutId: z.string().optional(),
  weight: percent.optional(),
  sample: percent.optional(),
  champion: z.number().int().positive().nullable().optional(),
});
export type RoutingChange = z.infer<typeof routingChangeSchema>;

/** What starts a rollout state machine execution (an S3 object, written once per rollout). */
export const rolloutRequestSchema = z.strictObject({
  model: z.string(),
  rolloutId: z.string(),
  version: z.number().int().positive(),
  champion: z.number().int().positive(),
  plan: rolloutPlanSchema,
  requestedAt: z.string(),
  actor: z.string(),
  reason: z.string(),
});
export type RolloutRequest = z.infer<typeof rolloutRequestSchema>;

/** A routing document that cannot be used: the inference function ignores it (metric) and the champion serves. */
export class CorruptRoutingError extends Error {
  override readonly name = 'CorruptRoutingError';
}

export function decodeRouting(body: Uint8Array | string, what: string): RoutingDocument {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new CorruptRoutingError(`${what} is not JSON: ${(error as Error).message}`);
  }
  const parsed = routingDocumentSchema.safeParse(value);
  if (!parsed.success) {
    throw new CorruptRoutingError(
      `${what} is not a routing document: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Buckets a caller is hashed into: weights have 0.01 % resolution. */
const ASSIGNMENT_BUCKETS = 10_000;

/**
 * The caller's bucket for one rollout: the first 32 bits of sha256(rolloutId, callerKey) modulo
 * 10,000. The same caller lands in the same bucket for the whole rollout (sticky), and raising the
 * weight only adds callers to the canary (a caller in the canary at 10 % stays there at 50 %).
 */
function assignmentBucket(rolloutId: string, callerKey: string): number {
  const digest = createHash('sha256').update(rolloutId).update('\n').update(callerKey).digest();
  return digest.readUInt32BE(0) % ASSIGNMENT_BUCKETS;
}

/** The variant that answers this caller: canary when its bucket is below the canary's weight. */
export function assignVariant(
  canary: Pick<CanaryRoute, 'rolloutId' | 'weight'> | undefined,
  callerKey: string,
): Variant {
  if (!canary || canary.weight <= 0) return 'champion';
  return assignmentBucket(canary.rolloutId, callerKey) < Math.round(canary.weight * (ASSIGNMENT_BUCKETS / 100))
    ? 'canary'
    : 'champion';
}

/** Whether a request is scored by the shadow: its id hashed, below the sample percentage. */
export function inShadowSample(shadow: Pick<ShadowRoute, 'sample'> | undefined, requestId: string): boolean {
  if (!shadow || shadow.sample <= 0) return false;
  if (shadow.sample >= 100) return true;
  return assignmentBucket('shadow', requestId) < Math.round(shadow.sample * (ASSIGNMENT_BUCKETS / 100));
}
