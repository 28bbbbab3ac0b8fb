import '../core/sdk-node-version-warning';
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { loadModelSpecs } from '../core/pipeline/model-specs';
import { isValidName } from '../core/registry/keys';
import { S3ObjectStore } from '../core/s3-object-store';
import { INCOMING_PREFIX } from '../lambdas/pipeline/keys';
import { localDataDir } from './endpoints';
import { asRefusedIfUnreachable, localEndpoints, parseFileModelArgs, Refused, runCli } from './file-model-cli';
import { localS3Client } from './s3-server';
import { describeOutcome, followUpload, type UploadedFile } from './upload-outcome';

/**
 * `npm run upload -- <file> <model> [--wait]`: puts a data file at incoming/<model>/<file name> in
 * the running local platform's data bucket (the same as `aws s3 cp`, for those without the AWS
 * CLI), where the platform picks it up; --wait follows the run to its outcome.
 */
const USAGE = `usage: npm run upload -- <file> <model> [--wait]   e.g. npm run upload -- training/datasets/iris.csv iris
  --wait   follow the retraining run to its outcome: exit 0 when it ended as designed (a new version,
           promoted or kept as challenger, or no new data), 1 when it failed or the file was quarantined
environment: LOCAL_DATA_DIR (npm start's data folder, default .local), MODEL_SPECS_DIR (the model
specs npm start reads, default config/models)`;

/** The models the platform has a spec for: an upload for any other is quarantined, never trained. */
function checkSpec(model: string): void {
  const dir = process.env.MODEL_SPECS_DIR || join(__dirname, '..', 'config', 'models');
  const shown = process.env.MODEL_SPECS_DIR || 'config/models';
  let known: string[];
  try {
    known = loadModelSpecs(dir).map((spec) => spec.name);
  } catch (error) {
    throw new Refused(`cannot read the model specs in ${shown}: ${(error as Error).message}`);
  }
  if (!known.includes(model)) {
    throw new Refused(
      `no model spec for "${model}" in ${shown}, so the platform would quarantine the upload (models with a spec: ${known.join(', ') || 'none'})`,
    );
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const { source: file, model, wait } = parseFileModelArgs(argv, USAGE);
  if (!isValidName(model)) throw new Refused(`"${model}" is not a model name (lower-case letters, digits and dashes)`);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new Refused(`${file}: no such file`);
  }
  checkSpec(model);
  const dataDir = localDataDir();
  const endpoints = localEndpoints(dataDir);
  const key = `${INCOMING_PREFIX}${model}/${basename(file)}`;
  const client = localS3Client(endpoints.s3Endpoint);
  try {
    const uploadedAt = new Date();
    const put = await client.send(
      new PutObjectCommand({ Bucket: endpoints.dataBucket, Key: key, Body: readFileSync(file) }),
    );
    console.log(`uploaded ${file} (${size} bytes) to s3://${endpoints.dataBucket}/${key}`);
    // The run's outcome depends on the file: say what the platform will do, not what it will decide.
    console.log(
      `the platform starts a retraining run for ${model} when it sees the upload, unless its rows are already known (the run then ends as "no new data") ` +
        `or it breaks the data contract (it is then quarantined); ${wait ? 'following it' : '--wait follows it'}, as do the npm start terminal and ${endpoints.apiUrl}/dashboard`,
    );
    if (!wait) return 0;
    const upload: UploadedFile = { model, file: basename(file), etag: put.ETag ?? '', uploadedAt };
    const outcome = await followUpload(upload, {
      dataStore: new S3ObjectStore(client, endpoints.dataBucket),
      modelStore: new S3ObjectStore(client, endpoints.modelBucket),
      onClaimed: (execution) => console.log(`run ${execution} handles it (Ctrl-C stops waiting, not the run)`),
    });
    const { lines, exitCode } = describeOutcome(outcome, upload, endpoints.dataBucket);
    for (const line of lines) console.log(line);
    return exitCode;
  } catch (error) {
    throw asRefusedIfUnreachable(error, endpoints.s3Endpoint, dataDir);
  } finally {
    client.destroy();
  }
}

runCli(main);
