import type { Baseline } from './monitoring/contract';

/**
 * The model manifest: everything needed to turn a JSON request into the ONNX model's inputs and
 * its outputs back into an answer, plus where the model came from and how good it was.
 * It is written next to every model.onnx and read by the registry and the inference handler.
 */

export type FeatureType = 'numeric' | 'categorical' | 'text';

export interface MissingValuePolicy {
  /** mean: numeric mean of the training rows (applied inside the ONNX graph by an Imputer);
   * most_frequent: the commonest category (applied before the graph); category: a category of
   * its own, `value` (e.g. "(missing)"), listed last in `categories` (applied before the graph,
   * so a null categorical value is one-hot encoded as that category); empty: text becomes "". */
  readonly policy: 'mean' | 'most_frequent' | 'category' | 'empty';
  readonly value: number | string;
}

export interface TokenizerSpec {
  /** Lower-cases, then takes maximal runs of letters, digits and underscores as tokens. */
  readonly lowercase: true;
  readonly pattern: string;
  /** The n-gram sizes the graph's TfIdfVectorizer counts. */
  readonly ngrams: readonly [number, number];
}

export interface ManifestFeature {
  /** The request field (and training data column) name. */
  readonly name: string;
  readonly type: FeatureType;
  /** The ONNX graph input fed from this field. Numeric features may share one input (then it
   * is [N, k], columns in the order the features are listed), as skl2onnx models expect. */
  readonly input: string;
  readonly missing: MissingValuePolicy;
  /** Categorical: the categories seen in training; any other value encodes as all zeros. */
  readonly categories?: readonly string[];
  /** Text: how the string becomes the tokens the graph takes. */
  readonly tokenizer?: TokenizerSpec;
  /** Numeric: the training range, for information and input checks. */
  readonly range?: { readonly min: number; readonly max: number };
}

/** How one ONNX input is fed: dtype and shape (-1 = any size). */
export interface ManifestInput {
  readonly name: string;
  /** The feature (or, for a shared numeric input, the features in column order) feeding it. */
  readonly feature: string | readonly string[];
  readonly dtype: 'float32' | 'string';
  readonly shape: readonly number[];
}

export interface ClassificationMetrics {
  readonly accuracy: number;
  readonly macroF1: number;
  readonly logLoss: number;
  readonly rocAuc?: number;
  readonly confusionMatrix: number[][];
  readonly perClass: {
    readonly class: string;
    readonly precision: number;
    readonly recall: number;
    readonly f1: number;
    readonly support: number;
  }[];
}

export interface CandidateSummary {
  readonly algorithm: string;
  readonly params: Record<string, number | string | boolean>;
  readonly validation: { readonly accuracy: number; readonly macroF1: number };
  readonly holdout: {
    readonly accuracy: number;
    readonly macroF1: number;
    readonly logLoss: number;
    readonly rocAuc?: number;
  };
  readonly fitSeconds: number;
  readonly searchSeconds: number;
}

export interface TrainingDataRef {
  readonly uri: string;
  readonly sha256: string;
  readonly rows: number;
}

export interface ModelManifest {
  readonly manifestVersion: 1;
  readonly name: string;
  readonly algorithm: string;
  readonly label: string;
  readonly classes: readonly string[];
  /** Display names of (some of) the classes, from the spec's classNames. @default - the labels themselves */
  readonly classNames?: Readonly<Record<string, string>>;
  readonly features: readonly ManifestFeature[];
  readonly inputs: readonly ManifestInput[];
  readonly outputs: { readonly label: string; readonly probabilities: string };
  readonly params: Record<string, number | string | boolean>;
  readonly metrics: {
    readonly holdout: ClassificationMetrics;
    readonly validation: { readonly accuracy: number; readonly macroF1: number };
  };
  readonly selectionMetric: 'accuracy' | 'macroF1';
  readonly candidates: readonly CandidateSummary[];
  /**
   * How the rows were split and how many landed in each part. `scheme`, `fractions` and `columns`
   * are absent in manifests made before the content split (training/split.ts): the retraining gate
   * then cannot know which rows such a model trained on.
   */
  readonly split: {
    readonly scheme?: string;
    readonly seed: number;
    readonly fractions?: { readonly validation: number; readonly holdout: number };
    readonly columns?: readonly string[];
    readonly train: number;
    readonly validation: number;
    readonly holdout: number;
  };
  readonly trainingData: readonly TrainingDataRef[];
  /** sha256 (hex) of model.onnx; checked before a session is created from it. */
  readonly sha256: string;
  readonly createdAt: string;
  /**
   * What the training data and the holdout predictions looked like, for the drift tests
   * (core/monitoring/baseline.ts): per feature from the train part's raw values, the predicted
   * classes on the holdout. Checked on register. Absent in versions trained before baselines and
   * in models trained elsewhere: they are still registered and served, and monitoring reports
   * their drift as "not judged".
   */
  readonly baseline?: Baseline;
  /** Set by the registry and pipeline. */
  readonly version?: number;
  readonly parentVersion?: number;
  readonly pipelineExecution?: string;
  /** Set by the registry: who registered this version, why and when. */
  readonly registration?: { readonly actor: string; readonly reason?: string; readonly registeredAt: string };
}
