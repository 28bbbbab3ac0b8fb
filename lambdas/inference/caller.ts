import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * Who is calling and which request this is, for the sticky canary assignment and the shadow sample
 * (core/registry/routing.ts: assignVariant, inShadowSample). Pure reads of the API Gateway event.
 */

/** The header a client sets to keep its variant across requests (a user, session or device id). */
export const CALLER_ID_HEADER = 'x-caller-id';

/** A caller key is hashed, never stored or logged; this only bounds the hashing work. */
const MAX_CALLER_KEY_CHARS = 256;

const nonEmpty = (value: unknown): string | undefined => {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed.slice(0, MAX_CALLER_KEY_CHARS);
};

/** The JWT authorizer's `sub` claim, when the API has auth on (payload v2: requestContext.authorizer.jwt.claims). */
function jwtSubject(event: APIGatewayProxyEventV2): string | undefined {
  const authorizer: unknown = (event.requestContext as { authorizer?: unknown } | undefined)?.authorizer;
  if (typeof authorizer !== 'object' || authorizer === null) return undefined;
  const claims: unknown = (authorizer as { jwt?: { claims?: unknown } }).jwt?.claims;
  if (typeof claims !== 'object' || claims === null) return undefined;
  const sub: unknown = (claims as Record<string, unknown>).sub;
  return nonEmpty(typeof sub === 'number' ? String(sub) : sub);
}

/**
 * The key a caller is assigned a variant by, the first present of:
 *   1. the `x-caller-id` header (API Gateway lower-cases header names), as sent, trimmed;
 *   2. the JWT `sub` claim, when the API's JWT authorizer is on;
 *   3. the client's source IP (callers behind one NAT share a variant);
 *   4. "anonymous" (an event without any of them: not one API Gateway sends).
 * The value is used as is, so `assignVariant(canary, "alice")` is the variant of a client sending
 * `x-caller-id: alice`. Stickiness, not security: a client choosing its id chooses its bucket.
 */
export function callerKeyOf(event: APIGatewayProxyEventV2): string {
  return (
    nonEmpty(event.headers?.[CALLER_ID_HEADER]) ??
    jwtSubject(event) ??
    nonEmpty(event.requestContext?.http?.sourceIp) ??
    'anonymous'
  );
}

/** API Gateway's request id (the shadow sample is decided per request), else a random one. */
export function requestIdOf(event: APIGatewayProxyEventV2): string {
  return nonEmpty(event.requestContext?.requestId) ?? randomUUID();
}
