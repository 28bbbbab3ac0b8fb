import { z } from 'zod';
import type { ModelManifest } from '../manifest';
import type { AliasMove, AliasRecord } from './types';

/**
 * Reading the registry's JSON objects back. They are written by this code, but the bucket is
 * shared with people and other tools, so each object is checked before it is trusted.
 */

const version = z.number().int().positive();

const aliasRecord = z.object({
  model: z.string(),
  alias: z.string(),
  version,
  previousVersion: version.optional(),
  movedAt: z.iso.datetime(),
  actor: z.string(),
  reason: z.string(),
  // Absent in records made before the schema guard, and in moves that changed no schema.
  schemaChange: z.object({ championVersion: version, differences: z.string(), reason: z.string() }).optional(),
});

const aliasMove = aliasRecord.extend({ kind: z.enum(['promote', 'rollback']) });

/**
 * The parts of a manifest the registry and the inference handler depend on; the rest (metrics
 * details, candidates, ...) is carried along as written.
 */
const manifest = z.looseObject({
  manifestVersion: z.literal(1),
  name: z.string(),
  algorithm: z.string(),
  label: z.string(),
  classes: z.array(z.string()).min(1),
  classNames: z.record(z.string(), z.string()).optional(),
  features: z.array(
    z.looseObject({
      name: z.string(),
      type: z.enum(['numeric', 'categorical', 'text']),
      input: z.string(),
      missing: z.looseObject({ policy: z.string(), value: z.union([z.number(), z.string()]) }),
    }),
  ),
  inputs: z.array(
    z.looseObject({
      name: z.string(),
      feature: z.union([z.string(), z.array(z.string())]),
      dtype: z.enum(['float32', 'string']),
      shape: z.array(z.number()),
    }),
  ),
  outputs: z.object({ label: z.string(), probabilities: z.string() }),
  metrics: z.looseObject({
    holdout: z.looseObject({ accuracy: z.number(), macroF1: z.number() }),
    validation: z.looseObject({ accuracy: z.number(), macroF1: z.number() }),
  }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256'),
  createdAt: z.string(),
  version: version.optional(),
  parentVersion: version.optional(),
  pipelineExecution: z.string().optional(),
});

/** Thrown when a stored object is not what its key says it is. */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
}

function decode<T>(schema: z.ZodType<T>, body: Uint8Array | string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new CorruptRecordError(`${what} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CorruptRecordError(`${what} is not valid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export const decodeAliasRecord = (body: Uint8Array, what: string): AliasRecord => decode(aliasRecord, body, what);
export const decodeAliasMove = (body: Uint8Array, what: string): AliasMove => decode(aliasMove, body, what);

/** A manifest from the registry or from a user's file; throws CorruptRecordError naming each problem. */
export function decodeManifest(body: Uint8Array | string, what: string): ModelManifest {
  // The schema checks the fields code relies on; the remaining ones are passed through as written.
  return decode(manifest, body, what) as unknown as ModelManifest;
}

export const encodeJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
