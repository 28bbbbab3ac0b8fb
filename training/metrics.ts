import type { ClassificationMetrics } from '../core/manifest';

const LOG_LOSS_EPSILON = 1e-15;

/** Index of the largest probability in each row (first one on ties). */
export function argmaxRows(probabilities: ArrayLike<number>, nClasses: number): Int32Array {
  const n = probabilities.length / nClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < nClasses; k++)
      if (probabilities[i * nClasses + k] > probabilities[i * nClasses + best]) best = k;
    out[i] = best;
  }
  return out;
}

function confusionMatrix(y: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): number[][] {
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < y.length; i++) m[y[i]][predicted[i]]++;
  return m;
}

/** Mean negative log-likelihood of the true class, probabilities clipped as scikit-learn does. */
function logLoss(y: ArrayLike<number>, probabilities: ArrayLike<number>, nClasses: number): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const p = Math.min(Math.max(probabilities[i * nClasses + y[i]], LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
    sum -= Math.log(p);
  }
  return sum / y.length;
}

/** Area under the ROC curve for a binary problem (Mann-Whitney U, ties counted as half). */
export function rocAuc(y: ArrayLike<number>, scores: ArrayLike<number>): number {
  const order = Array.from({ length: y.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (y[order[k]] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Accuracy, macro F1, log loss, ROC AUC (binary), confusion matrix and a per-class report. */
export function classificationMetrics(
  y: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  classes: readonly string[],
): ClassificationMetrics {
  const nClasses = classes.length;
  const predicted = argmaxRows(probabilities, nClasses);
  const matrix = confusionMatrix(y, predicted, nClasses);
  let correct = 0;
  for (let k = 0; k < nClasses; k++) correct += matrix[k][k];
  const perClass = classes.map((name, k) => {
    const tp = matrix[k][k];
    const predictedK = matrix.reduce((s, row) => s + row[k], 0);
    const support = matrix[k].reduce((s, v) => s + v, 0);
    const precision = predictedK === 0 ? 0 : tp / predictedK;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { class: name, precision, recall, f1, support };
  });
  const metrics: ClassificationMetrics = {
    accuracy: correct / y.length,
    macroF1: perClass.reduce((s, c) => s + c.f1, 0) / nClasses,
    logLoss: logLoss(y, probabilities, nClasses),
    confusionMatrix: matrix,
    perClass,
  };
  if (nClasses !== 2) return metrics;
  const positive = Float64Array.from({ length: y.length }, (_, i) => probabilities[i * 2 + 1]);
  return { ...metrics, rocAuc: rocAuc(y, positive) };
}
