import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type ObjectStore, type PutCondition, PreconditionFailedError, type StoredObject } from './object-store';
import { unquoteEtag } from './etag';

/** S3 quotes ETags on the wire; the port hands them out bare so callers can compare them as given. */
const quote = (etag: string): string => `"${unquoteEtag(etag)}"`;

/** The HTTP status and S3 error code of a failed SDK call, without trusting its shape. */
function s3Failure(error: unknown): { status?: number; code?: string } {
  if (typeof error !== 'object' || error === null) return {};
  const { name, Code, $metadata } = error as {
    name?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  const code = typeof Code === 'string' ? Code : typeof name === 'string' ? name : undefined;
  return { status, code };
}

const isMissing = (error: unknown) => {
  const { status, code } = s3Failure(error);
  return code === 'NoSuchKey' || code === 'NotFound' || status === 404;
};

/** ObjectStore over one S3 bucket (AWS or any S3-compatible endpoint the client points at). */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { body: await readBody(out.Body, key), etag: unquoteEtag(out.ETag) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async getIfChanged(key: string, etag: string): Promise<StoredObject | 'unchanged' | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: quote(etag) }),
      );
      return { body: await readBody(out.Body, key), etag: unquoteEtag(out.ETag) };
    } catch (error) {
      // The SDK treats S3's 304 Not Modified as an error.
      if (s3Failure(error).status === 304) return 'unchanged';
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async put(
    key: string,
    body: Uint8Array | string,
    options: { readonly condition?: PutCondition; readonly contentType?: string } = {},
  ): Promise<{ etag: string }> {
    const condition = options.condition;
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: condition && 'ifNoneMatch' in condition ? condition.ifNoneMatch : undefined,
          IfMatch: condition && 'ifMatch' in condition ? quote(condition.ifMatch) : undefined,
        }),
      );
      return { etag: unquoteEtag(out.ETag) };
    } catch (error) {
      const { status, code } = s3Failure(error);
      // 409 ConditionalRequestConflict: a concurrent write to the key won while this one was in flight.
      if (
        condition &&
        (status === 412 || status === 409 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict')
      ) {
        throw new PreconditionFailedError(key);
      }
      // If-Match on an object that is gone: it changed, as far as the writer is concerned.
      if (condition && 'ifMatch' in condition && isMissing(error)) throw new PreconditionFailedError(key);
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    await this.eachPage(prefix, undefined, (page) => {
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    });
    return keys.sort();
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const names = new Set<string>();
    await this.eachPage(prefix, '/', (page) => {
      for (const p of page.CommonPrefixes ?? []) {
        if (p.Prefix !== undefined) names.add(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
      }
    });
    return [...names].sort();
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  private async eachPage(
    prefix: string,
    delimiter: string | undefined,
    onPage: (page: ListObjectsV2CommandOutput) => void,
  ): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
        }),
      );
      onPage(page);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

async function readBody(
  body: { transformToByteArray(): Promise<Uint8Array> } | undefined,
  key: string,
): Promise<Uint8Array> {
  if (!body) throw new Error(`S3 returned no body for ${key}`);
  return body.transformToByteArray();
}
