import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_S3_CREDENTIALS } from '../core/platform-endpoints';
import { type S3EventNotification, type S3rverServer, s3Compat, unquoteEtag } from './s3rver-compat';

/**
 * A local S3-compatible server (s3rver) for tests and `npm start`, with the conditional writes,
 * atomic object writes and ListObjectsV2 pagination that s3rver lacks added in front of it
 * (see s3rver-compat.ts), so the unchanged AWS SDK code behaves here as it does on S3.
 */

export type { S3rverServer } from './s3rver-compat';

interface S3rverOptions {
  readonly address: string;
  readonly port: number;
  readonly directory: string;
  readonly silent: boolean;
  readonly configureBuckets: readonly { readonly name: string }[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- s3rver has no types; S3rverServer types what we use
const S3rver = require('s3rver') as new (options: S3rverOptions) => S3rverServer;

export interface ObjectCreated {
  readonly bucket: string;
  /** As stored (not URL-encoded, unlike the keys in AWS's event records). */
  readonly key: string;
  /** Unquoted; absent for ObjectCreated:Copy, whose record s3rver sends without one. */
  readonly etag?: string;
  readonly size?: number;
  /** e.g. ObjectCreated:Put, ObjectCreated:Copy */
  readonly eventName: string;
}

export interface LocalS3Server {
  /** e.g. http://127.0.0.1:4568 (path-style addressing only). */
  readonly endpoint: string;
  readonly port: number;
  readonly server: S3rverServer;
  /** Calls the listener for every object created; returns the function that unsubscribes it. */
  onObjectCreated(listener: (event: ObjectCreated) => void): () => void;
  close(): Promise<void>;
}

export interface S3ServerOptions {
  /** @default 0 - a free port */
  readonly port?: number;
  /** Where the objects live; a folder used before keeps its objects. */
  readonly directory: string;
  /** Created when missing. */
  readonly buckets: readonly string[];
  /** @default 1000 - S3's page size for object listings; tests lower it to see paging cheaply */
  readonly listPageSize?: number;
}

export async function startS3Server(options: S3ServerOptions): Promise<LocalS3Server> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  // Koa composes its middleware when the server starts listening, so this one runs before s3rver's.
  server.middleware.unshift(s3Compat(server, options.listPageSize));
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    server,
    onObjectCreated: (listener) => {
      const onEvent = (event: S3EventNotification) => {
        for (const record of event.Records) {
          if (!record.eventName.startsWith('ObjectCreated:')) continue;
          const { bucket, object } = record.s3;
          listener({
            bucket: bucket.name,
            key: object.key,
            etag: object.eTag === undefined ? undefined : unquoteEtag(object.eTag),
            size: object.size,
            eventName: record.eventName,
          });
        }
      };
      server.on('event', onEvent);
      return () => server.off('event', onEvent);
    },
    close: () => server.close(),
  };
}

/** The only keys s3rver accepts (it checks signatures): part of the endpoints contract, which the CLIs in core/ read too. */
export { LOCAL_S3_CREDENTIALS };

/** An S3 client for the local server: path-style, dummy credentials, no default checksums. */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
    // The SDK's default request checksums postdate s3rver, which can reject such uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}
