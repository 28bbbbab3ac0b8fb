/**
 * How much data one training step (one algorithm, one Lambda invocation, 15 minutes at most) can
 * take, from what `npm run bench -- training-capacity` measured (training-capacity.json, written
 * by that bench; docs/benchmarks.md shows the measurements). Prepare refuses a run whose data is
 * larger than the smallest limit of the spec's algorithms, before any candidate starts, so a big
 * dataset ends in a failure record that says what to change instead of a timeout.
 *
 * The unit is the cell: rows x feature columns. Time grows with cells and does not improve above
 * ~1,769 MB (training is single-threaded, and Lambda gives one whole vCPU at 1,769 MB; less memory
 * means a share of one); memory grows with cells and with the function's memory size.
 */
import { z } from 'zod';
import measured from './training-capacity.json';

/** Lambda allocates one full vCPU at this memory size; below it, CPU time is a proportional share. */
export const FULL_VCPU_MEMORY_MB = 1769;

const fit = z.strictObject({ a: z.number().positive(), b: z.number().positive() });
const capacitySchema = z.object({
  measuredAt: z.string(),
  machine: z.string(),
  referenceMemoryMb: z.number().int().positive(),
  timeBudgetSeconds: z.number().positive(),
  memoryHeadroom: z.number().positive().max(1),
  featureColumns: z.number().int().positive(),
  csvBytesPerCell: z.number().positive(),
  algorithms: z.record(
    z.string(),
    z.object({
      largestMeasuredCells: z.number().positive(),
      seconds: fit,
      rssMiB: z.object({ base: z.number(), perMillionCells: z.number().positive() }),
      maxCells: z.number().positive(),
      bound: z.enum(['time', 'memory']),
    }),
  ),
});
export type TrainingCapacity = z.infer<typeof capacitySchema>;

/** The bench's measurements, checked once at load: a malformed file is a build error, not a guess. */
export const TRAINING_CAPACITY: TrainingCapacity = capacitySchema.parse(measured);

/** The training function as deployed: its memory size and its timeout (both cap what one step can train). */
export interface StepResources {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /**
   * The engine's hard limit on one step, which a longer timeout cannot lift.
   * @default MAX_STEP_SECONDS - Lambda's 15 minutes; a managed task (ECS Fargate) has none but its own timeout
   */
  readonly maxSeconds?: number;
}

/** Lambda's hard limit on one invocation. */
const MAX_STEP_SECONDS = 900;

/** The resources the capacity was measured for: the pipeline function's defaults. */
export const REFERENCE_RESOURCES: StepResources = {
  memoryMb: TRAINING_CAPACITY.referenceMemoryMb,
  timeoutSeconds: MAX_STEP_SECONDS,
};

/** Training may use this share of the step's timeout; the rest is loading, export, the ONNX check and uploads, and CPU differences. */
function timeBudgetSeconds(
  timeoutSeconds: number,
  capacity: TrainingCapacity = TRAINING_CAPACITY,
  maxSeconds: number = MAX_STEP_SECONDS,
): number {
  return (capacity.timeBudgetSeconds / MAX_STEP_SECONDS) * Math.min(timeoutSeconds, maxSeconds);
}

export interface AlgorithmLimit {
  readonly algorithm: string;
  /** The most cells one step of this algorithm trains within the time budget and the memory. */
  readonly maxCells: number;
  /** Which of the two stops it first. */
  readonly bound: 'time' | 'memory';
}

/** One algorithm's limit on a function of these resources, or undefined for an algorithm never measured. */
export function algorithmLimit(
  algorithm: string,
  resources: StepResources,
  capacity: TrainingCapacity = TRAINING_CAPACITY,
): AlgorithmLimit | undefined {
  const m = capacity.algorithms[algorithm];
  if (!m) return undefined;
  const { memoryMb } = resources;
  // seconds = a * cells^b at a full vCPU; with a share s of one, seconds / s.
  const share =
    Math.min(1, memoryMb / FULL_VCPU_MEMORY_MB) / Math.min(1, capacity.referenceMemoryMb / FULL_VCPU_MEMORY_MB);
  const timeCells = Math.pow(
    (timeBudgetSeconds(resources.timeoutSeconds, capacity, resources.maxSeconds) * share) / m.seconds.a,
    1 / m.seconds.b,
  );
  const memoryCells = Math.max(
    0,
    ((memoryMb * capacity.memoryHeadroom - m.rssMiB.base) / m.rssMiB.perMillionCells) * 1e6,
  );
  return timeCells <= memoryCells
    ? { algorithm, maxCells: Math.floor(timeCells), bound: 'time' }
    : { algorithm, maxCells: Math.floor(memoryCells), bound: 'memory' };
}

/** A training dataset's size as Prepare sees it before reading any data. */
export interface DatasetSize {
  readonly rows: number;
  /** Columns the model learns from: every column but the label and the excluded ones. */
  readonly featureColumns: number;
}

/** Thrown by Prepare: the run's data is larger than one training step can handle. Its name is what the failure record says. */
export class DatasetTooLargeError extends Error {
  override readonly name = 'DatasetTooLargeError';
}

/**
 * Scratch space (/tmp, MB) a training step needs on a function of these resources: the run's data
 * snapshot is written there before it is parsed, at most the largest dataset any algorithm trains
 * here; twice that (an upload being validated is written there too), plus room for the runtime.
 */
export function scratchSpaceMb(resources: StepResources, capacity: TrainingCapacity = TRAINING_CAPACITY): number {
  const largest = Object.keys(capacity.algorithms).reduce(
    (most, a) => Math.max(most, algorithmLimit(a, resources, capacity)?.maxCells ?? 0),
    0,
  );
  const needed = Math.ceil((2 * largest * capacity.csvBytesPerCell) / 2 ** 20) + 256;
  return Math.min(10_240, Math.max(512, Math.ceil(needed / 512) * 512));
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Why these algorithms cannot train on data of this size at this memory, with what to change;
 * undefined when every one fits. `model` names the spec file in the advice.
 */
export function capacityProblem(
  model: string,
  size: DatasetSize,
  algorithms: readonly string[],
  resources: StepResources,
  capacity: TrainingCapacity = TRAINING_CAPACITY,
): string | undefined {
  const { memoryMb } = resources;
  const cells = size.rows * Math.max(1, size.featureColumns);
  const limits = algorithms
    .map((a) => algorithmLimit(a, resources, capacity))
    .filter((l): l is AlgorithmLimit => l !== undefined);
  const over = limits.filter((l) => cells > l.maxCells).sort((x, y) => x.maxCells - y.maxCells);
  if (over.length === 0) return undefined;
  const tightest = over[0];
  const maxRows = Math.floor(tightest.maxCells / Math.max(1, size.featureColumns));
  const fits = limits.filter((l) => cells <= l.maxCells).map((l) => l.algorithm);
  const why = over.map(
    (l) =>
      `${l.algorithm} at most ${count(l.maxCells)} (${l.bound === 'time' ? `its ${Math.round(timeBudgetSeconds(resources.timeoutSeconds, capacity, resources.maxSeconds))} s share of a ${Math.round(Math.min(resources.timeoutSeconds, resources.maxSeconds ?? MAX_STEP_SECONDS))} s step` : `${memoryMb} MB of memory`})`,
  );
  const fixes = [
    `set "training": {"window": {"rows": ${maxRows}}} in config/models/${model}.json to train on the newest rows`,
    fits.length > 0 ? `train only ${fits.join(', ')} ("training.algorithms")` : undefined,
    over.some((l) => l.bound === 'memory')
      ? 'raise platform.pipeline.memorySize (memory-bound algorithms only)'
      : undefined,
    over.some((l) => l.bound === 'time') && resources.timeoutSeconds < MAX_STEP_SECONDS
      ? `raise the pipeline's timeout (${resources.timeoutSeconds} s) towards 15 minutes`
      : undefined,
  ].filter((f): f is string => f !== undefined);
  return (
    `the training data is too large for one training step: ${count(size.rows)} rows x ${size.featureColumns} feature column(s) = ${count(cells)} cells; ` +
    `at ${memoryMb} MB one step trains ${why.join('; ')} (measured: docs/benchmarks.md, training capacity). Nothing was trained. To fix: ${fixes.join(', or ')}.`
  );
}
