/**
 * Choosing one candidate among several by their selection scores, with a tie-break towards the
 * smaller model. Pure and free of training types so that the retraining pipeline
 * (lambdas/pipeline/evaluate.ts) and the scikit-learn reference (bench/reference) apply the very
 * same rule as the training CLI.
 */

/**
 * Scores within this distance of the best are a tie. 0.001 is one row in a thousand, what one row
 * moves a score at the k-fold threshold (training/train.ts KFOLD_BELOW_VALIDATION_ROWS): a gap
 * that small is at most a row or two of predictions on the rows we select on and far inside any
 * selection set's sampling noise (about +-0.7 point at 1,000 rows and 95%), so it says nothing
 * about which candidate generalises better. Preferring the smaller model then is Occam's razor,
 * and a smaller model is cheaper to ship and serve.
 */
export const TIE_TOLERANCE = 0.001;

export interface Contender {
  readonly algorithm: string;
  /** The selection score (higher is better); NaN counts as the worst score. */
  readonly score: number;
  /** How many fitted numbers the model stores (FittedModel.parameterCount()). */
  readonly parameters: number;
}

export interface Pick {
  /** Index of the chosen contender in the array given. */
  readonly index: number;
  /** Indices of the contenders within the tolerance of the best score (the chosen one included), in input order. */
  readonly tied: readonly number[];
  /** True when more than one contender tied, so the parameter count (or the order) decided. */
  readonly tieBreak: boolean;
  /** One sentence saying why, e.g. "rf and lr tie within 0.001 on validation macro F1; lr chosen: 15 parameters vs 12,400". */
  readonly reason: string;
}

const count = (n: number) => n.toLocaleString('en-US');
const score = (v: number) => (Number.isNaN(v) ? 'NaN' : v.toFixed(4));

function names(list: readonly string[]): string {
  return list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

/**
 * The contender with the best score; contenders within `tolerance` of the best tie, and among
 * them the one with the fewest parameters wins, then the earliest in the array (callers pass
 * candidates in the algorithms' order). `scoreName` only words the reason.
 */
export function pickBest(
  contenders: readonly Contender[],
  tolerance = TIE_TOLERANCE,
  scoreName = 'selection score',
): Pick {
  if (contenders.length === 0) throw new Error('pickBest: no candidates to choose from');
  if (!(tolerance >= 0)) throw new Error(`pickBest: tolerance must be >= 0, got ${tolerance}`);
  const value = (i: number) => (Number.isNaN(contenders[i].score) ? -Infinity : contenders[i].score);
  let top = 0;
  for (let i = 1; i < contenders.length; i++) if (value(i) > value(top)) top = i;
  // A hair of slack so that scores exactly `tolerance` apart tie despite rounding (0.951 - 0.950).
  const floor = value(top) - tolerance - 1e-12;
  const tied: number[] = [];
  for (let i = 0; i < contenders.length; i++) if (value(i) >= floor) tied.push(i);
  let index = tied[0];
  for (const i of tied) if (contenders[i].parameters < contenders[index].parameters) index = i;

  const chosen = contenders[index];
  if (tied.length === 1) {
    return {
      index,
      tied,
      tieBreak: false,
      reason: `${chosen.algorithm} has the best ${scoreName} (${score(chosen.score)})`,
    };
  }
  // Listed best score first, as a reader compares them.
  const byScore = [...tied].sort((a, b) => value(b) - value(a) || a - b);
  const others = tied.filter((i) => i !== index);
  const sameSize = others.filter((i) => contenders[i].parameters === chosen.parameters);
  const versus =
    others.length === 1
      ? count(contenders[others[0]].parameters)
      : others.map((i) => `${count(contenders[i].parameters)} (${contenders[i].algorithm})`).join(', ');
  const why =
    sameSize.length > 0
      ? `${count(chosen.parameters)} parameters, as few as ${names(sameSize.map((i) => contenders[i].algorithm))}, and earlier in the algorithms' order`
      : `${count(chosen.parameters)} parameters vs ${versus}`;
  return {
    index,
    tied,
    tieBreak: true,
    reason: `${names(byScore.map((i) => contenders[i].algorithm))} tie within ${tolerance} on ${scoreName}; ${chosen.algorithm} chosen: ${why}`,
  };
}
