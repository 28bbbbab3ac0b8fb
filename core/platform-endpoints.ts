import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Where a running platform answers: written by `npm start` to <data folder>/endpoints.json once it
 * is ready, read by `npm run upload`, the registry CLI, the end-to-end tests and the integration
 * suite. The same shape describes a deployed stack (from `cdk deploy --outputs-file`), so scripts
 * take either. A contract between the local platform and the CLIs in core/, hence here
 * (local/endpoints.ts re-exports it).
 */
export interface PlatformEndpoints {
  /** Base URL of the inference API, no trailing slash, e.g. http://localhost:3000 */
  readonly apiUrl: string;
  /** The S3 endpoint for the SDK/CLI (path-style); absent for real AWS (the SDK's default). */
  readonly s3Endpoint?: string;
  readonly region: string;
  /** Uploads under incoming/<model>/ start retraining; quarantine/ keeps refused files. */
  readonly dataBucket: string;
  /** The model registry (registry/, runs/). */
  readonly modelBucket: string;
}

export const ENDPOINTS_FILE = 'endpoints.json';

/** The only keys the local platform's S3 server (s3rver) accepts: export them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for the CLIs. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** `npm start`'s data folder: LOCAL_DATA_DIR, else .local in the working directory. */
export const localDataDir = (env: NodeJS.ProcessEnv = process.env): string => env.LOCAL_DATA_DIR || '.local';

/** The shape of endpoints.json (and of a deployed stack's endpoints), for readers that validate. */
export const endpointsSchema = z.object({
  apiUrl: z.string().url(),
  s3Endpoint: z.string().url().optional(),
  region: z.string().min(1),
  dataBucket: z.string().min(1),
  modelBucket: z.string().min(1),
});

export function writeEndpoints(dataDir: string, endpoints: PlatformEndpoints): string {
  const file = join(dataDir, ENDPOINTS_FILE);
  writeFileSync(file, JSON.stringify(endpoints, null, 2) + '\n');
  return file;
}

/** The endpoints a running `npm start` wrote, or an error saying how to get them. */
export function readEndpoints(dataDir: string): PlatformEndpoints {
  const file = join(dataDir, ENDPOINTS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(
      `${file} not found: start the local platform first (npm start), or set LOCAL_DATA_DIR to its data folder`,
    );
  }
  const parsed = endpointsSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(
      `${file} is not a platform endpoints file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
