import type { FeatureBatch, FeatureValue } from '../../../core/features';
import type { ModelManifest } from '../../../core/manifest';

/**
 * One interface over the places a model can run: onnxruntime-node inside the function (the
 * default) or a SageMaker endpoint. A backend opens a model version once; the predictor it
 * returns is cached by the model cache and answers many requests.
 */

/** One instance's feature values by feature name (null = missing, imputed per the manifest). */
export type FeatureRow = Readonly<Record<string, FeatureValue>>;

export interface Predictor {
  /** Class probabilities per instance, in the order of the manifest's `classes` (rows, or a columnar batch). */
  predict(batch: FeatureBatch): Promise<number[][]>;
  /**
   * The same probabilities in one row-major array (instance i, class c at i * classes + c): no
   * array per instance, for the columnar answer. Optional: without it, `predict` is used.
   */
  predictFlat?(batch: FeatureBatch): Promise<Float32Array | Float64Array>;
}

export interface ModelArtifact {
  readonly manifest: ModelManifest;
  /** model.onnx, already checked against manifest.sha256; absent for backends that do not need it. */
  readonly onnx?: Uint8Array;
}

export interface ModelBackend {
  /** Shown in logs and /health. */
  readonly kind: 'onnxruntime' | 'sagemaker';
  /** Whether `open` needs model.onnx (SageMaker endpoints hold their own copy). */
  readonly needsModelBytes: boolean;
  /** Throws ModelLoadError when the version cannot serve (e.g. the graph does not load). */
  open(artifact: ModelArtifact): Promise<Predictor>;
}

/** The model version cannot be served; the caller keeps the last good one. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

/** The backend failed on a valid request (endpoint down, malformed answer): not the caller's fault. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}

export interface Prediction {
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
}

/** Probabilities are reported to 6 decimals: float32 carries about 7 significant digits. */
const round = (p: number) => Math.round(p * 1e6) / 1e6;

/**
 * The answer for each row: the label is the class with the highest probability (first on
 * ties), never an ML operator's own label output (onnxruntime's two-class
 * TreeEnsembleClassifier has been seen to label a [0.9, 0.1] row with the second class).
 */
export function toPredictions(classes: readonly string[], probabilities: readonly (readonly number[])[]): Prediction[] {
  return probabilities.map((row) => {
    let best = 0;
    // A null-prototype object: a class named "__proto__" is just a key.
    const byClass: Record<string, number> = Object.create(null) as Record<string, number>;
    for (let k = 0; k < classes.length; k++) {
      if (row[k] > row[best]) best = k;
      byClass[classes[k]] = round(row[k]);
    }
    return { label: classes[best], probabilities: byClass };
  });
}
