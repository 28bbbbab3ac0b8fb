import type { ModelManifest } from '../core/manifest';
import { predictionCounts } from '../core/monitoring/baseline';
import { predictedClasses } from './baseline';
import type { Candidate, TrainingRun } from './train';
import type { SourceFile } from '../core/data/load';
import { FLOAT, GraphBuilder, STRING } from './onnx/graph-builder';
import { sha256Hex } from '../core/hash';

export const OUTPUT_LABEL = 'label';
export const OUTPUT_PROBABILITIES = 'probabilities';

export interface ExportedModel {
  readonly onnx: Uint8Array;
  readonly manifest: ModelManifest;
}

/**
 * One self-describing model: the graph takes the raw features (one input per feature), does
 * the preprocessing, runs the candidate's head and returns `probabilities` [N, C] and `label`
 * [N] (the argmax class name; taken from the probabilities, never from an ML op's own label).
 */
export function buildOnnx(run: TrainingRun, candidate: Candidate, name: string): Uint8Array {
  const graph = new GraphBuilder();
  const features = run.encoder.toOnnx(graph);
  const scores = candidate.model.toOnnx(graph, features);
  graph.node('Identity', [scores], {}, { outputs: [OUTPUT_PROBABILITIES] });
  const index = graph.op('ArgMax', [OUTPUT_PROBABILITIES], { axis: 1, keepdims: 0 });
  const classes = graph.strings('classes', run.classes, [run.classes.length]);
  graph.node('Gather', [classes, index], { axis: 0 }, { outputs: [OUTPUT_LABEL] });
  graph.output(OUTPUT_LABEL, STRING, ['N']);
  graph.output(OUTPUT_PROBABILITIES, FLOAT, ['N', run.classes.length]);
  return graph.toBytes(name, `${candidate.algorithm} classifier for ${run.schema.label}`);
}

export function exportModel(
  run: TrainingRun,
  candidate: Candidate,
  name: string,
  sources: readonly SourceFile[],
  /** The spec's display names per class; those of classes the data did not have are dropped. */
  classNames: Readonly<Record<string, string>> = {},
): ExportedModel {
  const named = Object.fromEntries(run.classes.filter((c) => c in classNames).map((c) => [c, classNames[c]]));
  const onnx = buildOnnx(run, candidate, name);
  const summary = (c: Candidate) => ({
    algorithm: c.algorithm,
    params: c.params,
    validation: c.validation,
    holdout: {
      accuracy: c.holdout.accuracy,
      macroF1: c.holdout.macroF1,
      logLoss: c.holdout.logLoss,
      ...(c.holdout.rocAuc === undefined ? {} : { rocAuc: c.holdout.rocAuc }),
    },
    fitSeconds: c.fitSeconds,
    searchSeconds: c.searchSeconds,
  });
  const manifest: ModelManifest = {
    manifestVersion: 1,
    name,
    algorithm: candidate.algorithm,
    label: run.schema.label,
    classes: run.classes,
    ...(Object.keys(named).length > 0 ? { classNames: named } : {}),
    features: run.encoder.features,
    inputs: run.encoder.inputs(),
    outputs: { label: OUTPUT_LABEL, probabilities: OUTPUT_PROBABILITIES },
    params: candidate.params,
    metrics: { holdout: candidate.holdout, validation: candidate.validation },
    selectionMetric: run.selectionMetric,
    candidates: run.candidates.map(summary),
    split: {
      ...run.splitRecord,
      train: run.split.train.length,
      validation: run.split.validation.length,
      holdout: run.split.holdout.length,
    },
    trainingData: sources.map((s) => ({ uri: s.uri, sha256: s.sha256, rows: s.rows })),
    sha256: sha256Hex(onnx),
    createdAt: new Date().toISOString(),
    // Last: the long part of the file, after what a reader looks for.
    baseline: {
      ...run.baseline,
      predictions: predictionCounts(predictedClasses(candidate.holdoutProbabilities, run.classes)),
    },
  };
  return { onnx, manifest };
}
