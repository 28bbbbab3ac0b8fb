/**
 * The retraining pipeline's errors, by what went wrong. A Lambda step's error reaches Step
 * Functions as `{ Error: <the error's name>, Cause }`, so each `name` is set as a literal (a
 * minifier renames classes, so `constructor.name` would not survive bundling): the state machine's
 * Retry and Catch lists and the failure record's category read these names. None of them is
 * transient: the same input fails the same way, so the definition never retries them
 * (lib/constructs/retraining-definition.ts retries only Lambda's own service errors).
 */
import { DataError } from '../data/errors';
import { DatasetTooLargeError } from './training-capacity';
import { ModelSpecError } from './model-spec';

/** The function's environment lacks a setting the construct sets: a deployment fault. */
export class PipelineConfigError extends Error {
  override readonly name = 'PipelineConfigError';
}

/** The execution's input contradicts itself or the deployment (a key outside incoming/, another bucket, a bad run id, an unknown algorithm). */
export class PipelineInputError extends Error {
  override readonly name = 'PipelineInputError';
}

/** The run names a model that has no spec in this deployment. */
export class UnknownModelSpecError extends Error {
  override readonly name = 'UnknownModelSpecError';
}

/** A model has nothing to train on: no processed data under processed/<model>/. */
export class NoTrainingDataError extends Error {
  override readonly name = 'NoTrainingDataError';
}

/** The model's data breaks a rule training relies on (processed files that disagree on their columns, a snapshot that does not add up). */
export class DataContractError extends Error {
  override readonly name = 'DataContractError';
}

/** An object an earlier step (or an earlier run) wrote is gone or unreadable: the run cannot go on from it. */
export class MissingArtifactError extends Error {
  override readonly name = 'MissingArtifactError';
}

/** Training produced no usable candidate (none trainable, skipped, or an export that differs from its trainer). */
export class TrainingFailedError extends Error {
  override readonly name = 'TrainingFailedError';
}

/** Every error class the pipeline's steps throw on purpose (the ones defined elsewhere included). */
export const PIPELINE_ERRORS = [
  PipelineConfigError,
  PipelineInputError,
  UnknownModelSpecError,
  NoTrainingDataError,
  DataContractError,
  MissingArtifactError,
  TrainingFailedError,
  DatasetTooLargeError,
  ModelSpecError,
  DataError,
] as const;

/**
 * What a failure record and its notice call the failure, from the error's name: `data` and
 * `input` need a person to fix the upload or the request, `capacity` a larger engine,
 * `configuration` a redeploy, `transient` and `timeout` probably only a new run; `internal` is
 * anything else (a bug, or an error this list does not know yet).
 */
export type FailureCategory =
  'input' | 'data' | 'capacity' | 'training' | 'configuration' | 'transient' | 'timeout' | 'internal';

const CATEGORY_OF: Readonly<Record<string, FailureCategory>> = {
  PipelineConfigError: 'configuration',
  ModelSpecError: 'configuration',
  UnknownModelSpecError: 'input',
  PipelineInputError: 'input',
  StepRequestError: 'input',
  NoTrainingDataError: 'data',
  DataContractError: 'data',
  DataError: 'data',
  MissingArtifactError: 'data',
  DatasetTooLargeError: 'capacity',
  TrainingFailedError: 'training',
  'States.Timeout': 'timeout',
  'States.HeartbeatTimeout': 'timeout',
};

export function failureCategory(errorName: string | undefined): FailureCategory {
  if (errorName === undefined) return 'internal';
  const known = CATEGORY_OF[errorName];
  if (known) return known;
  if (errorName.startsWith('Lambda.') || errorName.startsWith('ECS.')) return 'transient';
  return 'internal';
}
