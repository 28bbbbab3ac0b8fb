import { runRegistryCli } from '../../core/registry/cli';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import type { TestS3 } from './local-s3';

/** What `npm run registry` needs to talk to a bucket of the test S3 server, as user carol. */
export function registryCliEnv(s3: TestS3, bucket: string): NodeJS.ProcessEnv {
  return {
    MODEL_BUCKET: bucket,
    AWS_ENDPOINT_URL: s3.server.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    USER: 'carol',
  };
}

/** Runs the registry CLI in process; its exit code and what it printed. */
export async function registryCli(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRegistryCli([...argv], env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
