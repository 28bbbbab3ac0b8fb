import type { CsrMatrix } from '../matrix';
import type { GraphBuilder } from '../onnx/graph-builder';

export type AlgorithmName = 'lr' | 'gbdt' | 'rf' | 'nb' | 'svm';

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

/** Encoded rows and their class indices (0..nClasses-1). */
export interface TrainingSet {
  readonly x: CsrMatrix;
  readonly y: Int32Array;
  readonly nClasses: number;
}

export interface FitContext {
  readonly seed: number;
  /** Rows the trainer may use for early stopping; never the holdout. */
  readonly validation?: TrainingSet;
  /** One entry per encoded column, so a trainer can treat one-hot/text/numeric blocks differently. */
  readonly columns: readonly EncodedColumn[];
  readonly onProgress?: (message: string) => void;
}

/** What an encoded column came from. */
export type ColumnKind = 'numeric' | 'onehot' | 'text';

/**
 * One encoded column: numeric columns are imputed and standardised; a categorical feature
 * becomes one 0/1 column per category (all zero for an unseen category); a text feature becomes
 * one L2-normalised TF-IDF column per vocabulary term. `feature` is the source feature's name,
 * so columns sharing it form one block.
 */
export interface EncodedColumn {
  readonly kind: ColumnKind;
  readonly feature: string;
}

export interface FittedModel {
  readonly algorithm: AlgorithmName;
  readonly params: Params;
  readonly nClasses: number;
  /** Class probabilities, row-major [x.rows, nClasses]. */
  predictProba(x: CsrMatrix): Float64Array;
  /**
   * How many fitted numbers the model stores: the size the tie-break between candidates prefers
   * small (training/selection.ts). Linear models: weights + intercepts; naive Bayes: its per-class
   * statistics plus priors; tree ensembles: nodes (split + leaf) over all trees, one per node.
   * bench/reference/sklearn_reference.py counts scikit-learn's models the same way.
   */
  parameterCount(): number;
  /**
   * Appends the nodes that map `features` ([N, D] float32, the encoded row) to class
   * probabilities ([N, nClasses] float32); returns the probabilities' tensor name.
   */
  toOnnx(graph: GraphBuilder, features: string): string;
}

export interface Trainer {
  readonly algorithm: AlgorithmName;
  /** Whether it can train on high-dimensional sparse text columns (TF-IDF). */
  readonly supportsText: boolean;
  /** The small hyper-parameter grid it searches; grid()[0] is the default. */
  grid(): Params[];
  fit(train: TrainingSet, params: Params, context: FitContext): FittedModel;
}
