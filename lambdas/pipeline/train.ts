import { ALGORITHMS, isAlgorithm } from '../../training/algorithms';
import type { AlgorithmName } from '../../training/algorithms/types';
import { exportModel } from '../../training/export';
import { KFOLD_BELOW_VALIDATION_ROWS, trainCandidates, type TrainingRun } from '../../training/train';
import { holdoutParity, PARITY_TOLERANCE } from '../../training/verify';
import type { CandidateResult, TrainItem } from '../../core/pipeline/contract';
import { loadRunData, trainOptions } from './data';
import { readDataManifest } from './prepare';
import { dataWarnings } from '../../training/data/warnings';
import { specFor, type StepDeps } from './deps';
import { candidatePrefix } from './keys';
import { PipelineInputError, TrainingFailedError } from '../../core/pipeline/errors';

export function asAlgorithm(name: string): AlgorithmName {
  if (!isAlgorithm(name))
    throw new PipelineInputError(`unknown algorithm "${name}"; expected one of ${ALGORITHMS.join(', ')}`);
  return name;
}

/**
 * Trains one algorithm (one Map item) on the run's data, exports it to ONNX, checks that
 * onnxruntime reproduces the trainer's holdout probabilities, and writes model.onnx and
 * manifest.json under runs/<model>/<runId>/candidates/<algorithm>/. A retry rewrites the same keys.
 */
export async function train(item: TrainItem, deps: StepDeps): Promise<CandidateResult> {
  const spec = specFor(deps, item.model);
  const algorithm = asAlgorithm(item.algorithm);
  const data = await readDataManifest(deps, item.dataManifestKey);
  // Typed columns straight from the snapshot, with the split keys hashed while reading (as the CLI trains).
  const table = await loadRunData(deps, data, { digestExclude: spec.data.exclude ?? [] });
  const run = trainCandidates(table, trainOptions(spec, [algorithm], item.seed));
  const candidate = run.candidates.find((c) => c.algorithm === algorithm);
  if (!candidate) {
    const reason = run.skipped.find((s) => s.algorithm === algorithm)?.reason ?? 'not trained';
    throw new TrainingFailedError(`${algorithm} was not trained for model "${item.model}": ${reason}`);
  }
  const { onnx, manifest } = exportModel(run, candidate, item.model, table.sources, spec.classNames);
  const gap = await holdoutParity(run, candidate, onnx, table);
  if (!(gap <= PARITY_TOLERANCE)) {
    throw new TrainingFailedError(
      `${algorithm}: the exported ONNX model differs from the trainer by ${gap} on the holdout (tolerance ${PARITY_TOLERANCE}); refusing it`,
    );
  }
  const prefix = candidatePrefix(item.model, item.runId, algorithm);
  await deps.modelStore.put(`${prefix}model.onnx`, onnx, { contentType: 'application/octet-stream' });
  await deps.modelStore.put(
    `${prefix}manifest.json`,
    JSON.stringify({ ...manifest, createdAt: deps.clock().toISOString() }, null, 2),
    {
      contentType: 'application/json',
    },
  );
  return {
    algorithm,
    candidatePrefix: prefix,
    params: candidate.params,
    validation: { accuracy: candidate.validation.accuracy, macroF1: candidate.validation.macroF1 },
    holdout: { accuracy: candidate.holdout.accuracy, macroF1: candidate.holdout.macroF1 },
    fitSeconds: candidate.fitSeconds,
    parameters: candidate.parameters,
    selection: describeSelection(run.selection),
    warnings: dataWarnings(table, run.schema, { algorithms: spec.training.algorithms }).map((w) => w.message),
  };
}

/** How the grid point was chosen, in words (the run summary and the terminal show it). */
function describeSelection(selection: TrainingRun['selection']): string {
  return selection.protocol === 'k-fold'
    ? `${selection.folds ?? '?'}-fold cross-validation on ${selection.rows} train+validation rows (the validation part has ${selection.validationRows} < ${KFOLD_BELOW_VALIDATION_ROWS} rows)`
    : `the validation part (${selection.validationRows} rows)`;
}
