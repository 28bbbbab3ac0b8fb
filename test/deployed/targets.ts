import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  ENDPOINTS_FILE,
  endpointsSchema,
  localDataDir,
  type PlatformEndpoints,
  readEndpoints,
} from '../../local/endpoints';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';

/**
 * Which running platform the deployed suite (platform.integration.ts) talks to. run.ts resolves it
 * from the environment and hands it to jest as INTEGRATION_ENDPOINTS_JSON; the suite reads it back
 * with `endpointsFromEnv`. Three kinds, one suite:
 *   localstack  AWS_ENDPOINT_URL (default http://localhost:4566) + the outputs of `cdklocal deploy`
 *   local       INTEGRATION_ENDPOINTS=local: the endpoints file `npm start` writes
 *   aws         INTEGRATION_TARGET=aws: the SDK's default endpoints + the outputs of `cdk deploy`
 */

export type TargetKind = 'localstack' | 'local' | 'aws';

export interface IntegrationTarget {
  readonly kind: TargetKind;
  readonly endpoints: PlatformEndpoints;
  /** What the emulator accepts; absent for AWS, where the SDK's default credential chain applies. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * ready: run the suite. skip: there is nothing to test against (not started, not deployed, not
 * reachable); not a failure unless the caller asked for the suite to be required. invalid: the
 * configuration itself is wrong and must be fixed.
 */
export type Resolution =
  | { readonly status: 'ready'; readonly target: IntegrationTarget }
  | { readonly status: 'skip'; readonly reason: string }
  | { readonly status: 'invalid'; readonly reason: string };

/** LocalStack's gateway when nothing else is said (its documented default port). */
const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';
/** Where `npm run localstack:deploy` writes the stack outputs (`--outputs-file`). */
const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';
/** Reachability probes are meant to be fast: a platform that needs longer is treated as down. */
const PROBE_TIMEOUT_MS = 3000;
/** LocalStack accepts any credentials; these are the ones its documentation uses. */
const LOCALSTACK_DEFAULT_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

const HINT = 'see docs/localstack.md';

export type Fetch = (
  url: string,
  init: { method: string; redirect: 'manual'; signal: AbortSignal },
) => Promise<{ status: number }>;

export interface ResolveDeps {
  readonly fetch: Fetch;
  /** The outputs/endpoints files are read relative to this folder. */
  readonly cwd: string;
}

const defaultDeps = (): ResolveDeps => ({ fetch: (url, init) => fetch(url, init), cwd: process.cwd() });

/**
 * The stacks' outputs as `cdk deploy --outputs-file` writes them: { "<stack>": { "<output>": value } }.
 * Only the outputs the suite needs are required; others (MlopsPipeline) are allowed and ignored.
 */
const cdkOutputsSchema = z.object({
  MlopsStorage: z.object({ DataBucketName: z.string().min(1), ModelBucketName: z.string().min(1) }),
  MlopsInference: z.object({ ApiUrl: z.string().url() }),
});

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');

const issuesOf = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/** Why a request did not get any HTTP answer, in a few words (ECONNREFUSED, timed out after 3 s, ...). */
function whyUnreachable(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  const cause =
    error instanceof Error ? (error as Error & { cause?: { code?: unknown; message?: unknown } }).cause : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Any HTTP answer (even 403 or 404) means something is listening; only no answer at all is "unreachable". */
async function probe(
  url: string,
  deps: Pick<ResolveDeps, 'fetch'>,
): Promise<{ ok: true; status: number } | { ok: false; why: string }> {
  try {
    const response = await deps.fetch(url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return { ok: true, status: response.status };
  } catch (error) {
    return { ok: false, why: whyUnreachable(error) };
  }
}

/** The stack outputs, or why they cannot be used (missing: not deployed; malformed: invalid). */
function readCdkOutputs(
  file: string,
):
  | { status: 'ok'; apiUrl: string; dataBucket: string; modelBucket: string }
  | { status: 'missing'; reason: string }
  | { status: 'malformed'; reason: string } {
  if (!existsSync(file)) return { status: 'missing', reason: `${file} not found` };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { status: 'malformed', reason: `${file} is not JSON (${(error as Error).message})` };
  }
  const parsed = cdkOutputsSchema.safeParse(json);
  if (!parsed.success)
    return {
      status: 'malformed',
      reason: `${file} lacks the stack outputs the suite needs (${issuesOf(parsed.error)}); redeploy with --outputs-file`,
    };
  const { MlopsStorage, MlopsInference } = parsed.data;
  return {
    status: 'ok',
    apiUrl: withoutTrailingSlash(MlopsInference.ApiUrl),
    dataBucket: MlopsStorage.DataBucketName,
    modelBucket: MlopsStorage.ModelBucketName,
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', 'localhost.localstack.cloud']);

/**
 * The URL LocalStack serves an HTTP API on. CloudFormation's output is built like AWS's
 * (https://<apiId>.execute-api.<region>.<url suffix>/), which does not point at the emulator's port;
 * LocalStack documents http://<apiId>.execute-api.localhost.localstack.cloud:<port>/ as the
 * recommended form, with the `$default` stage needing no stage segment. An API URL that is not an
 * execute-api host, or an emulator that is not on this machine, is left as it is
 * (INTEGRATION_API_URL overrides both).
 */
function localStackApiUrl(outputUrl: string, endpoint: string): string {
  const output = new URL(outputUrl);
  const gateway = new URL(endpoint);
  const apiId = /^([a-z0-9]+)\.execute-api\./i.exec(output.hostname)?.[1];
  if (!apiId || !LOOPBACK_HOSTS.has(gateway.hostname)) return withoutTrailingSlash(outputUrl);
  const port = gateway.port || (gateway.protocol === 'https:' ? '443' : '80');
  return `${gateway.protocol}//${apiId}.execute-api.localhost.localstack.cloud:${port}${withoutTrailingSlash(output.pathname)}`;
}

/** The region of an API Gateway URL (https://<id>.execute-api.<region>.amazonaws.com), if it is one. */
const regionOfApiUrl = (apiUrl: string) =>
  /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/i.exec(new URL(apiUrl).hostname)?.[1];

function chooseKind(env: NodeJS.ProcessEnv): { kind: TargetKind } | { invalid: string } {
  const target = env.INTEGRATION_TARGET?.trim() || undefined;
  const endpointsFrom = env.INTEGRATION_ENDPOINTS?.trim() || undefined;
  if (endpointsFrom !== undefined && endpointsFrom !== 'local') {
    return {
      invalid: `INTEGRATION_ENDPOINTS must be "local" (the endpoints file of npm start), got "${endpointsFrom}"`,
    };
  }
  if (target !== undefined && target !== 'localstack' && target !== 'local' && target !== 'aws') {
    return { invalid: `INTEGRATION_TARGET must be one of localstack, local, aws; got "${target}"` };
  }
  if (endpointsFrom === 'local' && target !== undefined && target !== 'local') {
    return {
      invalid: `INTEGRATION_ENDPOINTS=local and INTEGRATION_TARGET=${target} ask for two different platforms; set one`,
    };
  }
  if (target === 'aws' && env.AWS_ENDPOINT_URL) {
    return {
      invalid: `INTEGRATION_TARGET=aws and AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL} contradict each other (the SDK would send the "AWS" requests to that endpoint); unset one`,
    };
  }
  return { kind: endpointsFrom === 'local' ? 'local' : ((target as TargetKind | undefined) ?? 'localstack') };
}

/** The API base URL the suite calls, and whether it answers GET /health at all. */
async function checkApi(
  apiUrl: string,
  deps: ResolveDeps,
  unreachableHint: string,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const health = await probe(`${apiUrl}/health`, deps);
  return health.ok
    ? { ok: true }
    : {
        ok: false,
        reason: `the inference API does not answer at ${apiUrl}/health (${health.why}); ${unreachableHint}`,
      };
}

async function resolveLocalStack(env: NodeJS.ProcessEnv, deps: ResolveDeps): Promise<Resolution> {
  const endpoint = withoutTrailingSlash(env.AWS_ENDPOINT_URL?.trim() || DEFAULT_LOCALSTACK_ENDPOINT);
  if (!URL.canParse(endpoint)) return { status: 'invalid', reason: `AWS_ENDPOINT_URL is not a URL: "${endpoint}"` };
  const gateway = await probe(`${endpoint}/`, deps);
  if (!gateway.ok) {
    const how = env.AWS_ENDPOINT_URL
      ? 'start LocalStack (docker compose up -d)'
      : 'start LocalStack (docker compose up -d) and set AWS_ENDPOINT_URL';
    return {
      status: 'skip',
      reason: `no AWS-compatible endpoint reachable at ${endpoint} (${gateway.why}); ${how}, or use INTEGRATION_ENDPOINTS=local with npm start; ${HINT}`,
    };
  }
  const file = resolve(deps.cwd, env.CDK_OUTPUTS_FILE?.trim() || DEFAULT_OUTPUTS_FILE);
  const outputs = readCdkOutputs(file);
  if (outputs.status === 'missing')
    return {
      status: 'skip',
      reason: `${endpoint} answers but the stacks are not deployed there: ${outputs.reason} (npm run localstack:deploy writes it; or set CDK_OUTPUTS_FILE); ${HINT}`,
    };
  if (outputs.status === 'malformed') return { status: 'invalid', reason: outputs.reason };

  const apiUrl = withoutTrailingSlash(env.INTEGRATION_API_URL?.trim() || localStackApiUrl(outputs.apiUrl, endpoint));
  const api = await checkApi(
    apiUrl,
    deps,
    'LocalStack serves HTTP APIs (API Gateway v2) only on a paid plan (Base or higher); set INTEGRATION_API_URL if it is served elsewhere',
  );
  if (!api.ok) return { status: 'skip', reason: api.reason };
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
      : LOCALSTACK_DEFAULT_CREDENTIALS;
  return {
    status: 'ready',
    target: {
      kind: 'localstack',
      credentials,
      endpoints: {
        apiUrl,
        s3Endpoint: endpoint,
        region,
        dataBucket: outputs.dataBucket,
        modelBucket: outputs.modelBucket,
      },
    },
  };
}

async function resolveLocal(env: NodeJS.ProcessEnv, deps: ResolveDeps): Promise<Resolution> {
  const dataDir = resolve(deps.cwd, localDataDir(env));
  if (!existsSync(resolve(dataDir, ENDPOINTS_FILE))) {
    return {
      status: 'skip',
      reason: `the local platform is not running: ${resolve(dataDir, ENDPOINTS_FILE)} not found (start it with npm start, or set LOCAL_DATA_DIR to its data folder)`,
    };
  }
  let endpoints: PlatformEndpoints;
  try {
    endpoints = readEndpoints(dataDir);
  } catch (error) {
    return { status: 'invalid', reason: (error as Error).message };
  }
  if (endpoints.s3Endpoint === undefined)
    return {
      status: 'invalid',
      reason: `${resolve(dataDir, ENDPOINTS_FILE)} names no s3Endpoint; the local platform always has one`,
    };
  const s3 = await probe(`${withoutTrailingSlash(endpoints.s3Endpoint)}/`, deps);
  if (!s3.ok)
    return {
      status: 'skip',
      reason: `the local platform's S3 server does not answer at ${endpoints.s3Endpoint} (${s3.why}); is npm start still running? (its endpoints file may be stale)`,
    };
  const apiUrl = withoutTrailingSlash(env.INTEGRATION_API_URL?.trim() || endpoints.apiUrl);
  const api = await checkApi(apiUrl, deps, 'is npm start still running?');
  if (!api.ok) return { status: 'skip', reason: api.reason };
  return {
    status: 'ready',
    target: { kind: 'local', credentials: LOCAL_S3_CREDENTIALS, endpoints: { ...endpoints, apiUrl } },
  };
}

async function resolveAws(env: NodeJS.ProcessEnv, deps: ResolveDeps): Promise<Resolution> {
  const file = resolve(deps.cwd, env.CDK_OUTPUTS_FILE?.trim() || DEFAULT_OUTPUTS_FILE);
  const outputs = readCdkOutputs(file);
  if (outputs.status !== 'ok') {
    return {
      status: 'invalid',
      reason: `INTEGRATION_TARGET=aws needs the stack outputs: ${outputs.reason} (cdk deploy --all --outputs-file ${DEFAULT_OUTPUTS_FILE}, or set CDK_OUTPUTS_FILE)`,
    };
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || regionOfApiUrl(outputs.apiUrl);
  if (!region)
    return { status: 'invalid', reason: `no region: set AWS_REGION (the API URL ${outputs.apiUrl} does not name one)` };
  const s3 = await probe(`https://s3.${region}.amazonaws.com/`, deps);
  if (!s3.ok)
    return { status: 'skip', reason: `AWS is not reachable from here: https://s3.${region}.amazonaws.com (${s3.why})` };
  const apiUrl = withoutTrailingSlash(env.INTEGRATION_API_URL?.trim() || outputs.apiUrl);
  const api = await checkApi(apiUrl, deps, `is the MlopsInference stack in ${file} still deployed?`);
  if (!api.ok) return { status: 'skip', reason: api.reason };
  return {
    status: 'ready',
    target: {
      kind: 'aws',
      endpoints: { apiUrl, region, dataBucket: outputs.dataBucket, modelBucket: outputs.modelBucket },
    },
  };
}

/** Decides the target from the environment and checks that it answers (see run.ts for the contract). */
export async function resolveTarget(
  env: NodeJS.ProcessEnv = process.env,
  deps: ResolveDeps = defaultDeps(),
): Promise<Resolution> {
  const choice = chooseKind(env);
  if ('invalid' in choice) return { status: 'invalid', reason: choice.invalid };
  if (env.INTEGRATION_API_URL?.trim() && !URL.canParse(env.INTEGRATION_API_URL.trim())) {
    return { status: 'invalid', reason: `INTEGRATION_API_URL is not a URL: "${env.INTEGRATION_API_URL}"` };
  }
  switch (choice.kind) {
    case 'localstack':
      return resolveLocalStack(env, deps);
    case 'local':
      return resolveLocal(env, deps);
    case 'aws':
      return resolveAws(env, deps);
  }
}

/** The variables jest's process needs to reach the target (merged over the caller's environment). */
export function targetEnv(target: IntegrationTarget): Record<string, string> {
  return {
    INTEGRATION_TARGET_KIND: target.kind,
    INTEGRATION_ENDPOINTS_JSON: JSON.stringify(target.endpoints),
    AWS_REGION: target.endpoints.region,
    ...(target.credentials
      ? { AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey }
      : {}),
  };
}

/** One line saying where the suite runs. */
export function describeTarget(target: IntegrationTarget): string {
  const { apiUrl, s3Endpoint, region, dataBucket, modelBucket } = target.endpoints;
  return `${target.kind}: API ${apiUrl}, S3 ${s3Endpoint ?? `AWS (${region})`}, data bucket ${dataBucket}, model bucket ${modelBucket}`;
}

/** Inside jest: the endpoints run.ts resolved. Throws when the suite is started some other way. */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformEndpoints {
  const json = env.INTEGRATION_ENDPOINTS_JSON;
  if (!json)
    throw new Error(
      'INTEGRATION_ENDPOINTS_JSON is not set: run this suite with npm run test:integration (test/deployed/run.ts), which resolves the target first',
    );
  const parsed = endpointsSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(`INTEGRATION_ENDPOINTS_JSON is not a platform endpoints object: ${issuesOf(parsed.error)}`);
  return parsed.data;
}
