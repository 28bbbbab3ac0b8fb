import '../core/sdk-node-version-warning';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BATCH_PREFIX, batchJobId, reportKey } from '../core/batch/keys';
import type { BatchReport } from '../core/batch/report';
import { isValidName } from '../core/registry/keys';
import { OnnxModelValidator } from '../core/registry/onnx-validator';
import { ModelRegistry } from '../core/registry/registry';
import { S3ObjectStore } from '../core/s3-object-store';
import { localDataDir } from './endpoints';
import { asRefusedIfUnreachable, localEndpoints, parseFileModelArgs, Refused, runCli } from './file-model-cli';
import { localS3Client } from './s3-server';

/**
 * `npm run batch -- <file-or-s3-uri> <model> [--wait]`: puts the file at batch/<model>/<name> in
 * the running local platform's data bucket, where the platform starts a batch transform job (as
 * the stack's EventBridge rule does); an s3:// URI of the data bucket is copied there the same
 * way (already under batch/<model>/: its job is followed). --wait follows the job to its report.
 */
const USAGE = `usage: npm run batch -- <file-or-s3-uri> <model> [--wait]   e.g. npm run batch -- rows.csv ai4i2020 --wait
  <file>     CSV (with a header naming the model's features, or the features in schema order) or JSON Lines
  --wait     follow the job to its report: exit 0 when it scored the file (refused rows are listed in the
             report), 1 when the file was refused as a whole or the job failed
environment: LOCAL_DATA_DIR (npm start's data folder, default .local)`;

async function readObject(client: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body?.transformToByteArray();
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** One line saying how the job ended, and the exit code. */
export function describeReport(report: BatchReport, bucket: string): { line: string; exitCode: number } {
  const where = `s3://${bucket}/${reportKey(report.model, report.job)}`;
  if (report.status === 'succeeded' || report.status === 'partial')
    return {
      line: `job ${report.job}: ${report.rowsScored} of ${report.rowsIn} rows scored by ${report.model} v${report.version}, ${report.rowsRefused} refused (listed in ${where}); results: ${report.results.length} part(s) under s3://${bucket}/batch-results/${report.model}/${report.job}/results/${report.status === 'partial' ? `; but ${report.reason?.message ?? 'some chunks failed'}` : ''}`,
      exitCode: report.status === 'partial' ? 1 : 0,
    };
  return {
    line: `job ${report.job}: ${report.status === 'refused' ? 'the file was refused' : 'the job failed'}: ${report.reason?.message ?? 'see the report'}; nothing was written as results (report: ${where})`,
    exitCode: 1,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const { source, model, wait } = parseFileModelArgs(argv, USAGE);
  if (!isValidName(model)) throw new Refused(`"${model}" is not a model name (lower-case letters, digits and dashes)`);
  const dataDir = localDataDir();
  const endpoints = localEndpoints(dataDir);
  const client = localS3Client(endpoints.s3Endpoint);
  try {
    const registry = new ModelRegistry(new S3ObjectStore(client, endpoints.modelBucket), new OnnxModelValidator());
    if ((await registry.resolveAlias(model, 'champion')) === undefined) {
      const known = await registry.listModels();
      throw new Refused(
        `unknown model "${model}": it has no champion to score with (models: ${known.join(', ') || 'none'})`,
      );
    }
    const bucket = endpoints.dataBucket;
    let key: string;
    let etag: string;
    const uri = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
    if (uri) {
      if (uri[1] !== bucket) throw new Refused(`${source}: only the local data bucket (${bucket}) can be read`);
      const body = await readObject(client, bucket, uri[2]);
      if (body === undefined) throw new Refused(`${source}: no such object`);
      key = uri[2].startsWith(`${BATCH_PREFIX}${model}/`) ? uri[2] : `${BATCH_PREFIX}${model}/${basename(uri[2])}`;
      if (key === uri[2]) {
        etag = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '';
      } else etag = (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).ETag ?? '';
    } else {
      try {
        statSync(source);
      } catch {
        throw new Refused(`${source}: no such file`);
      }
      key = `${BATCH_PREFIX}${model}/${basename(source)}`;
      etag =
        (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(source) }))).ETag ?? '';
    }
    const job = batchJobId({ bucket, key, etag });
    console.log(
      `s3://${bucket}/${key}: batch job ${job}; ${wait ? 'following it' : `its report will be s3://${bucket}/${reportKey(model, job)}`}`,
    );
    if (!wait) return 0;
    for (;;) {
      const body = await readObject(client, bucket, reportKey(model, job));
      if (body) {
        const { line, exitCode } = describeReport(
          JSON.parse(Buffer.from(body).toString('utf8')) as BatchReport,
          bucket,
        );
        console.log(line);
        return exitCode;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (error) {
    if (error instanceof Refused) throw error;
    throw asRefusedIfUnreachable(error, endpoints.s3Endpoint, dataDir);
  } finally {
    client.destroy();
  }
}

runCli(main);
