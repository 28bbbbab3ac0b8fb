import { createSession, toOrtFeeds } from '../core/onnx-session';
import type { AnyTable } from '../core/data/columns';
import type { Candidate, TrainingRun } from './train';
import { OUTPUT_PROBABILITIES } from './export';

/** The largest gap accepted between the trainer's and onnxruntime's class probabilities. */
export const PARITY_TOLERANCE = 1e-5;

/**
 * Runs the exported model in onnxruntime on the holdout rows (raw values in, as a request would
 * send them) and returns the largest difference from the trainer's own probabilities.
 */
export async function holdoutParity(
  run: TrainingRun,
  candidate: Candidate,
  onnx: Uint8Array,
  table: AnyTable,
): Promise<number> {
  const session = await createSession(onnx);
  const inputs = run.encoder.tableInputs(table, run.split.holdout);
  const result = await session.run(toOrtFeeds(inputs));
  const onnxProbabilities = result[OUTPUT_PROBABILITIES].data as Float32Array;
  let max = 0;
  for (let i = 0; i < onnxProbabilities.length; i++) {
    max = Math.max(max, Math.abs(onnxProbabilities[i] - candidate.holdoutProbabilities[i]));
  }
  return max;
}
