import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { INCOMING_PREFIX } from '../lambdas/pipeline/keys';
import { isValidName } from '../core/registry/keys';
import { localDataDir, readEndpoints } from './endpoints';
import { localS3Client } from './s3-server';

/**
 * `npm run upload -- <file> <model>`: puts a data file at incoming/<model>/<file name> in the
 * running local platform's data bucket (the same as `aws s3 cp`, for those without the AWS CLI),
 * which starts a retraining run. Progress shows in the `npm start` terminal and at /dashboard.
 */
// The SDK's notice that its 2027 releases will need Node 22; the locked version runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(args: readonly string[]): Promise<number> {
  const [file, model] = args;
  if (!file || !model || args.length > 2) {
    console.error('usage: npm run upload -- <file> <model>   e.g. npm run upload -- training/datasets/iris.csv iris');
    return 2;
  }
  if (!isValidName(model)) {
    console.error(`"${model}" is not a model name (lower-case letters, digits and dashes)`);
    return 2;
  }
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    console.error(`${file}: no such file`);
    return 2;
  }
  const endpoints = readEndpoints(localDataDir());
  if (!endpoints.s3Endpoint) throw new Error('the endpoints file names no S3 endpoint');
  const key = `${INCOMING_PREFIX}${model}/${basename(file)}`;
  const client = localS3Client(endpoints.s3Endpoint);
  const out = await client.send(new PutObjectCommand({ Bucket: endpoints.dataBucket, Key: key, Body: readFileSync(file) }));
  console.log(`uploaded ${file} (${size} bytes) to s3://${endpoints.dataBucket}/${key} (ETag ${out.ETag ?? '?'})`);
  // What happens next depends on the file (clean, quarantined, or only rows the model already has):
  // say what the platform will do, not what it will decide.
  console.log(`the platform validates it next: new rows retrain "${model}", rows it already has end as "no new data", a bad file is quarantined; watch the npm start terminal or ${endpoints.apiUrl}/dashboard`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
