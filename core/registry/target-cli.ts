import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENDPOINTS_FILE, LOCAL_S3_CREDENTIALS, localDataDir, readEndpoints } from '../platform-endpoints';

/**
 * Which registry (and data bucket, and API) the registry CLI talks to: what the environment names,
 * else the local platform that `npm start` runs, found through the endpoints file it writes; and
 * the failures that come from the target rather than the command (not set, not reachable, no
 * such model), each as one line.
 */

/** A failure that is the answer: cli.ts prints the message as it is and exits 2. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/** Any of these set means the user chose a target; the endpoints file is then not read. */
const TARGET_VARIABLES = ['MODEL_BUCKET', 'DATA_BUCKET', 'API_URL', 'MONITORING_FUNCTION', 'AWS_ENDPOINT_URL'] as const;

export interface CliTarget {
  /** The environment the commands read: as given, or with the local platform's settings filled in. */
  readonly env: NodeJS.ProcessEnv;
  /** The endpoints file the settings came from; absent when the environment named the target. */
  readonly endpointsFile?: string;
  /** Where the endpoints file would be: what the "not set" message names. */
  readonly searched: string;
}

/**
 * The environment as given when it names a target; otherwise the running local platform's buckets,
 * S3 endpoint, API and S3 credentials (LOCAL_DATA_DIR, else .local: where `npm start` keeps them).
 */
export function cliTarget(env: NodeJS.ProcessEnv): CliTarget {
  const dataDir = localDataDir(env);
  const searched = join(dataDir, ENDPOINTS_FILE);
  if (TARGET_VARIABLES.some((name) => env[name]) || !existsSync(searched)) return { env, searched };
  let endpoints;
  try {
    endpoints = readEndpoints(dataDir);
  } catch (error) {
    throw new TargetError((error as Error).message);
  }
  return {
    env: {
      ...env,
      MODEL_BUCKET: endpoints.modelBucket,
      DATA_BUCKET: endpoints.dataBucket,
      API_URL: endpoints.apiUrl,
      AWS_REGION: endpoints.region,
      ...(endpoints.s3Endpoint ? { AWS_ENDPOINT_URL: endpoints.s3Endpoint } : {}),
      // The local S3 server accepts only its own keys, whatever AWS keys the shell has.
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
    },
    endpointsFile: searched,
    searched,
  };
}

/** The model bucket, or a one-line failure naming both ways to get one. */
export function modelBucketOf(target: CliTarget): string {
  const bucket = target.env.MODEL_BUCKET;
  if (bucket) return bucket;
  const named = TARGET_VARIABLES.filter((name) => target.env[name]);
  if (named.length === 0) {
    throw new TargetError(
      `MODEL_BUCKET is not set and no local platform is running (no ${target.searched}): export MODEL_BUCKET=<the model bucket name>, or start the local platform with npm start`,
    );
  }
  throw new TargetError(
    `MODEL_BUCKET is not set: export MODEL_BUCKET=<the model bucket name>, or unset ${named.join(', ')} to use the local platform (npm start) through ${target.searched}`,
  );
}

/** Errors of a connection that never got an answer (the SDK gives the socket's code after its retries). */
const UNREACHABLE = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
];
const UNREACHABLE_IN_MESSAGE = new RegExp(`\\b(${UNREACHABLE.join('|')})\\b`);

function unreachableCode(error: unknown): string | undefined {
  // Read by shape, not instanceof: a socket error from another realm (a test VM) is no `Error` here,
  // and the SDK then wraps it in a plain error whose message alone keeps the code.
  for (
    let e = error, depth = 0;
    typeof e === 'object' && e !== null && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && UNREACHABLE.includes(code)) return code;
    if (name === 'TimeoutError') return 'timed out';
    const inMessage = typeof message === 'string' ? UNREACHABLE_IN_MESSAGE.exec(message)?.[1] : undefined;
    if (inMessage) return inMessage;
  }
  return undefined;
}

/** One line for an error that means nothing answers at the target's S3 endpoint; undefined for any other error. */
export function unreachableMessage(error: unknown, target: CliTarget, what: string): string | undefined {
  const code = unreachableCode(error);
  if (code === undefined) return undefined;
  const endpoint = target.env.AWS_ENDPOINT_URL;
  if (target.endpointsFile)
    return `cannot reach ${what} at ${endpoint ?? 'S3'} (is npm start running? ${target.endpointsFile} says it answers there)`;
  return `cannot reach ${what} at ${endpoint ?? `S3 in ${target.env.AWS_REGION || 'us-east-1'}`} (${code})`;
}

/** "No model named ...", with the models there are when listing them works. */
export async function unknownModelMessage(
  model: string,
  bucket: string,
  listModels: () => Promise<string[]>,
): Promise<string> {
  const models = await listModels().catch(() => undefined);
  const known =
    models === undefined ? '' : models.length === 0 ? ' (no models registered yet)' : ` (models: ${models.join(', ')})`;
  return `no model named "${model}" in the registry s3://${bucket}${known}`;
}
