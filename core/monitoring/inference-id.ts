import { createHash, randomUUID } from 'node:crypto';

/**
 * Inference ids: what an answer is called when its true label comes back (feedback) and what a
 * captured record is joined on. A request's id is a UUID version 7 (RFC 9562: the first 48 bits
 * are the Unix time in milliseconds, so ids sort by time and their age is known without a lookup)
 * whose last 32 bits are a check over the rest and the model's name. The check lets the feedback
 * endpoint refuse, without reading anything, an id that was mistyped, made up or issued for
 * another model: any other string passes with probability 2^-32. It is a check, not a signature:
 * someone who knows the scheme can forge ids, and such feedback joins no captured record (the
 * monitoring report counts it as unmatched).
 *
 * A one-instance request's instance id is the request's id; in a batch, instance i is `<id>.<i>`.
 */

export const INFERENCE_ID_HEADER = 'x-inference-id';

const ID_PATTERN =
  /^([0-9a-f]{8})-([0-9a-f]{4})-(7[0-9a-f]{3})-([89ab][0-9a-f]{3})-([0-9a-f]{4})([0-9a-f]{8})(?:\.(0|[1-9][0-9]{0,5}))?$/;

function check(model: string, body: string): string {
  return createHash('sha256').update(model).update(':').update(body).digest('hex').slice(0, 8);
}

/** A new request id for `model` at `now` (ms since the epoch). */
export function newInferenceId(model: string, now: number = Date.now()): string {
  const random = randomUUID().replace(/-/g, '');
  const time = Math.floor(now).toString(16).padStart(12, '0').slice(-12);
  // 48 bits of time, version 7 + 12 random bits, variant 10 + 14 random bits, 16 random bits.
  const variant = ((parseInt(random[16], 16) & 0x3) | 0x8).toString(16);
  const body = `${time}7${random.slice(13, 16)}${variant}${random.slice(17, 20)}${random.slice(20, 24)}`;
  const hex = body + check(model, body);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of instance `index` of a request of `count` instances. */
export function instanceId(requestId: string, index: number, count: number): string {
  return count === 1 ? requestId : `${requestId}.${index}`;
}

export type ParsedInferenceId =
  /** `id`: the instance id as issued (lower case). */
  | {
      readonly ok: true;
      readonly id: string;
      readonly requestId: string;
      readonly index: number | undefined;
      readonly issuedAt: number;
    }
  | { readonly ok: false; readonly reason: 'malformed' | 'not-issued' };

/**
 * Reads an instance id as the feedback endpoint receives it: 'malformed' when it is not an
 * inference id at all, 'not-issued' when its check does not hold for `model` (mistyped, made up,
 * or another model's).
 */
export function parseInferenceId(model: string, id: string): ParsedInferenceId {
  const match = ID_PATTERN.exec(id.toLowerCase());
  if (!match) return { ok: false, reason: 'malformed' };
  const body = `${match[1]}${match[2]}${match[3]}${match[4]}${match[5]}`;
  if (check(model, body) !== match[6]) return { ok: false, reason: 'not-issued' };
  const normalized = id.toLowerCase();
  return {
    ok: true,
    id: normalized,
    requestId: normalized.split('.')[0],
    index: match[7] === undefined ? undefined : Number(match[7]),
    issuedAt: parseInt(body.slice(0, 12), 16),
  };
}
