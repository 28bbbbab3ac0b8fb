import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../core/s3-object-store';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import {
  type BatchDeps,
  finishJob,
  recordFailure,
  scoreChunks,
  type ScoreInput,
  startJob,
  type StartInput,
} from './steps';

/**
 * The batch transform function: one function, four steps chosen by `step` (the state machine's
 * tasks set it). A thin adapter: config from the environment once, the work in steps.ts.
 */

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (the batch transform construct sets it)`);
  return value;
}

/** Bytes per chunk: about 8 MiB is ~130k ai4i rows, a few hundred ms of scoring. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

let deps: BatchDeps | undefined;
function dependencies(): BatchDeps {
  if (deps) return deps;
  const s3 = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
  const dataBucket = required('DATA_BUCKET');
  deps = {
    s3,
    dataBucket,
    data: new S3ObjectStore(s3, dataBucket),
    registry: new ModelRegistry(new S3ObjectStore(s3, required('MODEL_BUCKET')), new OnnxModelValidator()),
    chunkBytes: Number(process.env.BATCH_CHUNK_BYTES ?? DEFAULT_CHUNK_BYTES),
  };
  return deps;
}

export type BatchEvent =
  | ({ readonly step: 'start' } & StartInput)
  | ({ readonly step: 'score' } & ScoreInput)
  | { readonly step: 'finish'; readonly model: string; readonly job: string }
  | ({ readonly step: 'fail'; readonly error?: { readonly Error?: string; readonly Cause?: string } } & StartInput);

export async function handler(event: BatchEvent): Promise<unknown> {
  const d = dependencies();
  switch (event.step) {
    case 'start':
      return startJob(d, event);
    case 'score':
      return scoreChunks(d, event);
    case 'finish':
      return finishJob(d, event);
    case 'fail':
      return recordFailure(d, event);
    default:
      throw new Error(`unknown batch step ${JSON.stringify((event as { step?: unknown }).step)}`);
  }
}
