import type { FeatureValue } from '../features';
import { chiSquareSurvival } from '../rollout/statistics';
import { binIndex, categoricalFeatureValue, coverageShare, numericFeatureValue, textFeatureTokens } from './baseline';
import {
  type CategoricalBaseline,
  COVERAGE_EDGES,
  type DriftVerdict,
  type FeatureBaseline,
  type FeatureDriftResult,
  type NumericBaseline,
  PSI_MODERATE,
  type TextBaseline,
} from './contract';

/**
 * The drift statistics of the monitoring job, pure and incremental: an accumulator per feature
 * takes live values one at a time and keeps only bin counts, so a window of millions of captured
 * records costs memory in proportion to the bins, not the records.
 *
 * PSI (population stability index) = sum over bins of (a - e) * ln(a / e), with e and a the
 * baseline's and the window's share of rows in the bin. Every test here is a PSI over the
 * baseline's own bins plus a "missing" bin on both sides (and, for categories, an "unseen" bin
 * the baseline never fills), so the convention of core/monitoring/contract.ts applies to all:
 * < 0.1 stable, 0.1 to the spec's threshold moderate, above it drift.
 *
 * Shares (missingShare, outOfRangeShare, unseenShare) are shares of the window's records, so they
 * add up and compare across features. What counts as missing, how a value is binned and how text
 * is tokenised come from core/monitoring/baseline.ts, the same functions training's baselines use.
 */

/**
 * The share an empty bin is given before the logarithm (on either side): PSI is infinite for a bin
 * one side leaves empty, so, as is common practice (credit-scoring PSI tables, Evidently's
 * default), a zero share is floored to 0.0001 (0.01%). Shares are not renormalised afterwards.
 * The floor bounds one bin's contribution: a bin holding 10% of the window and none of the
 * baseline adds (0.1 - 0.0001) * ln(0.1 / 0.0001) = 0.69, a clear drift on its own.
 */
export const PSI_EMPTY_SHARE = 1e-4;

function total(counts: readonly number[]): number {
  let sum = 0;
  for (const count of counts) sum += count;
  return sum;
}

/** PSI of `actual` against `expected`, both rows per bin in the same bin order. */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length)
    throw new RangeError(
      `psi needs the same bins on both sides, got ${expected.length} expected and ${actual.length} actual`,
    );
  const expectedTotal = total(expected);
  const actualTotal = total(actual);
  if (!(expectedTotal > 0) || !(actualTotal > 0))
    throw new RangeError(`psi needs rows on both sides, got ${expectedTotal} expected and ${actualTotal} actual`);
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] / expectedTotal, PSI_EMPTY_SHARE);
    const a = Math.max(actual[i] / actualTotal, PSI_EMPTY_SHARE);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** 'not-judged' unless judged with a score; else by PSI_MODERATE and the threshold. */
export function verdictOf(score: number | null, threshold: number, judged: boolean): DriftVerdict {
  if (!judged || score === null) return 'not-judged';
  if (score < PSI_MODERATE) return 'stable';
  return score < threshold ? 'moderate' : 'drift';
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
}

/**
 * Pearson's chi-square goodness of fit of observed counts against expected shares (scipy's
 * `chisquare(observed, expected_shares * observed.sum())`). Only bins with a positive expected
 * share take part: an observation in a bin the baseline never had makes the statistic infinite,
 * so such rows are left out of the test and reported as unseen / missing shares instead. Undefined
 * (no test) with fewer than two such bins or no rows in them.
 */
export function chiSquareGoodnessOfFit(
  expected: readonly number[],
  observed: readonly number[],
): ChiSquareResult | undefined {
  if (expected.length !== observed.length)
    throw new RangeError(`chi-square needs the same bins on both sides, got ${expected.length} and ${observed.length}`);
  let expectedTotal = 0;
  let observedTotal = 0;
  let bins = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] > 0) {
      expectedTotal += expected[i];
      observedTotal += observed[i];
      bins++;
    }
  }
  if (bins < 2 || observedTotal === 0) return undefined;
  let statistic = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!(expected[i] > 0)) continue;
    const e = (expected[i] / expectedTotal) * observedTotal;
    statistic += (observed[i] - e) ** 2 / e;
  }
  const degreesOfFreedom = bins - 1;
  return { statistic, degreesOfFreedom, pValue: chiSquareSurvival(statistic, degreesOfFreedom) };
}

/** Takes one feature's live values one by one; `result` judges them against the baseline. */
export interface FeatureDriftAccumulator {
  add(value: FeatureValue): void;
  /** Values added so far. */
  readonly count: number;
  result(threshold: number, judged: boolean): FeatureDriftResult;
}

const share = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

class NumericDrift implements FeatureDriftAccumulator {
  private readonly bins: number[];
  private missing = 0;
  private outOfRange = 0;
  count = 0;

  constructor(private readonly baseline: NumericBaseline) {
    this.bins = new Array<number>(baseline.edges.length + 1).fill(0);
  }

  add(value: FeatureValue): void {
    this.count++;
    const number = numericFeatureValue(value);
    if (number === undefined) {
      this.missing++;
      return;
    }
    this.bins[binIndex(this.baseline.edges, number)]++;
    if (number < this.baseline.min || number > this.baseline.max) this.outOfRange++;
  }

  result(threshold: number, judged: boolean): FeatureDriftResult {
    const score =
      this.count === 0 ? null : psi([...this.baseline.counts, this.baseline.missing], [...this.bins, this.missing]);
    return {
      feature: this.baseline.feature,
      type: 'numeric',
      test: 'psi',
      score,
      threshold,
      verdict: verdictOf(score, threshold, judged),
      missingShare: share(this.missing, this.count),
      outOfRangeShare: share(this.outOfRange, this.count),
    };
  }
}

class CategoricalDrift implements FeatureDriftAccumulator {
  private readonly categories: readonly string[];
  private readonly index: ReadonlyMap<string, number>;
  private readonly bins: number[];
  private missing = 0;
  private unseen = 0;
  count = 0;

  constructor(private readonly baseline: CategoricalBaseline) {
    this.categories = Object.keys(baseline.counts).sort();
    this.index = new Map(this.categories.map((category, i) => [category, i]));
    this.bins = new Array<number>(this.categories.length).fill(0);
  }

  add(value: FeatureValue): void {
    this.count++;
    const category = categoricalFeatureValue(value);
    if (category === undefined) {
      this.missing++;
      return;
    }
    const i = this.index.get(category);
    if (i === undefined) this.unseen++;
    else this.bins[i]++;
  }

  result(threshold: number, judged: boolean): FeatureDriftResult {
    // Bins: the training categories, missing, unseen (which the baseline never fills).
    const expected = [...this.categories.map((category) => this.baseline.counts[category]), this.baseline.missing, 0];
    const observed = [...this.bins, this.missing, this.unseen];
    const score = this.count === 0 ? null : psi(expected, observed);
    const chiSquare = this.count === 0 ? undefined : chiSquareGoodnessOfFit(expected, observed);
    return {
      feature: this.baseline.feature,
      type: 'categorical',
      test: 'psi',
      score,
      threshold,
      verdict: verdictOf(score, threshold, judged),
      missingShare: share(this.missing, this.count),
      unseenShare: share(this.unseen, this.count),
      ...(chiSquare ? { chiSquare } : {}),
    };
  }
}

class TextDrift implements FeatureDriftAccumulator {
  private readonly vocabulary: ReadonlySet<string>;
  private readonly lengthBins: number[];
  private readonly coverageBins: number[];
  private missing = 0;
  count = 0;

  constructor(private readonly baseline: TextBaseline) {
    this.vocabulary = new Set(baseline.vocabulary);
    this.lengthBins = new Array<number>(baseline.lengthEdges.length + 1).fill(0);
    this.coverageBins = new Array<number>(COVERAGE_EDGES.length + 1).fill(0);
  }

  add(value: FeatureValue): void {
    this.count++;
    const tokens = textFeatureTokens(value);
    if (tokens === undefined) {
      this.missing++;
      return;
    }
    this.lengthBins[binIndex(this.baseline.lengthEdges, tokens.length)]++;
    this.coverageBins[binIndex(COVERAGE_EDGES, coverageShare(tokens, this.vocabulary))]++;
  }

  result(threshold: number, judged: boolean): FeatureDriftResult {
    let score: number | null = null;
    if (this.count > 0) {
      const lengths = psi([...this.baseline.lengthCounts, this.baseline.missing], [...this.lengthBins, this.missing]);
      const coverage = psi(
        [...this.baseline.coverageCounts, this.baseline.missing],
        [...this.coverageBins, this.missing],
      );
      score = Math.max(lengths, coverage);
    }
    return {
      feature: this.baseline.feature,
      type: 'text',
      test: 'psi',
      score,
      threshold,
      verdict: verdictOf(score, threshold, judged),
      missingShare: share(this.missing, this.count),
    };
  }
}

/** An accumulator for one feature's baseline (numeric, categorical or text). */
export function featureDriftAccumulator(baseline: FeatureBaseline): FeatureDriftAccumulator {
  switch (baseline.type) {
    case 'numeric':
      return new NumericDrift(baseline);
    case 'categorical':
      return new CategoricalDrift(baseline);
    case 'text':
      return new TextDrift(baseline);
  }
}

/** One feature's drift over a list of live values (the accumulator, in one call). */
export function featureDrift(
  baseline: FeatureBaseline,
  values: Iterable<FeatureValue>,
  options: { readonly threshold: number; readonly judged: boolean },
): FeatureDriftResult {
  const accumulator = featureDriftAccumulator(baseline);
  for (const value of values) accumulator.add(value);
  return accumulator.result(options.threshold, options.judged);
}

/** The bin for predicted labels the baseline does not list (a model's classes do not change, so it should stay empty). */
export const OTHER_LABEL = '(other)';

/** Predicted labels of the baseline's version, against its holdout's predicted-label distribution. */
export class PredictionDriftAccumulator {
  private readonly live = new Map<string, number>();
  count = 0;

  constructor(private readonly baseline: Readonly<Record<string, number>>) {}

  add(label: string): void {
    this.count++;
    this.live.set(label, (this.live.get(label) ?? 0) + 1);
  }

  /** PSI over the baseline's classes (and OTHER_LABEL when a live label is not among them); null without live labels. */
  result(): { readonly score: number | null; readonly live: Readonly<Record<string, number>> } {
    const classes = Object.keys(this.baseline).sort();
    const live: Record<string, number> = {};
    for (const name of classes) live[name] = this.live.get(name) ?? 0;
    let other = 0;
    for (const [name, count] of [...this.live.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (Object.hasOwn(this.baseline, name)) continue;
      live[name] = count;
      other += count;
    }
    if (this.count === 0 || total(classes.map((name) => this.baseline[name])) === 0) return { score: null, live };
    const expected = classes.map((name) => this.baseline[name]);
    const actual = classes.map((name) => live[name]);
    if (other > 0) {
      expected.push(0);
      actual.push(other);
    }
    return { score: psi(expected, actual), live };
  }
}
