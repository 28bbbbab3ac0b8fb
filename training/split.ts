import { Rng } from './rng';

export interface Split {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly holdout: Int32Array;
}

export interface SplitFractions {
  readonly validation: number;
  readonly holdout: number;
}

export const DEFAULT_FRACTIONS: SplitFractions = { validation: 0.2, holdout: 0.2 };

/**
 * Stratified train/validation/holdout split: every class is shuffled with the seed and cut in
 * the same proportions, so a rare class (3% machine failures) appears in all three parts.
 * Indices within each part are sorted, so the split is a pure function of (labels, seed).
 */
export function stratifiedSplit(
  y: Int32Array,
  nClasses: number,
  seed: number,
  fractions: SplitFractions = DEFAULT_FRACTIONS,
): Split {
  const rng = new Rng(seed);
  const train: number[] = [];
  const validation: number[] = [];
  const holdout: number[] = [];
  for (let k = 0; k < nClasses; k++) {
    const members: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === k) members.push(i);
    rng.shuffle(members);
    const nHoldout = Math.round(members.length * fractions.holdout);
    const nValidation = Math.round(members.length * fractions.validation);
    holdout.push(...members.slice(0, nHoldout));
    validation.push(...members.slice(nHoldout, nHoldout + nValidation));
    train.push(...members.slice(nHoldout + nValidation));
  }
  const sorted = (a: number[]) => Int32Array.from(a.sort((p, q) => p - q));
  return { train: sorted(train), validation: sorted(validation), holdout: sorted(holdout) };
}
