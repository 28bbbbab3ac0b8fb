import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../core/s3-object-store';
import { LOCAL_S3_CREDENTIALS, type LocalS3Server, localS3Client, startS3Server } from '../../local/s3-server';

export interface TestS3 {
  readonly server: LocalS3Server;
  readonly client: S3Client;
  store(bucket: string): S3ObjectStore;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

/** The local S3 server (with S3's conditional writes) on a free port, in a scratch folder. */
export async function startTestS3(
  buckets: readonly string[],
  options: { listPageSize?: number } = {},
): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'mlops-s3-'));
  const server = await startS3Server({ directory, buckets, ...options });
  const client = localS3Client(server.endpoint);
  return {
    server,
    client,
    store: (bucket) => new S3ObjectStore(client, bucket),
    close: async () => {
      // Keep-alive sockets would hold the server open until they time out.
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * The environment the inference handler reads at import, as a Lambda would have it, pointed at
 * the local S3 server's credentials and with Powertools' metrics and logs silenced.
 */
export function setQuietHandlerEnv(modelBucket: string): void {
  Object.assign(process.env, {
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    MODEL_BUCKET: modelBucket,
    // Captured records would be JSON lines on the test's stdout; the capture tests pass their own sink.
    CAPTURE_SETTINGS: JSON.stringify({ '*': { enabled: false, sampleRate: 1, retentionDays: 30 } }),
  });
}
