/**
 * The live gate of a rollout step: does the canary serve as well as the champion, judged on what
 * both answered during the step? Pure: window statistics in, a verdict with its reasons out.
 *
 * Sample size first: either variant with fewer than `plan.minRequests` requests in the window
 * makes the step `insufficient` (the state machine extends the bake, at most `maxExtensions`
 * times). Then three checks, each of which alone fails the step:
 *
 * 1. **Server error rate**: a one-sided two-proportion z-test of
 *      H0: p_canary <= p_champion + maxErrorRateIncrease   against   H1: p_canary > p_champion + maxErrorRateIncrease
 *    with z = (p̃_c − p̃_b − δ) / sqrt(p̃_c(1 − p̃_c)/(n_c + 2) + p̃_b(1 − p̃_b)/(n_b + 2)), where
 *    p̃ = (errors + 1) / (requests + 2) is the Agresti–Caffo adjusted proportion (one error and one
 *    success added to each variant), so the test stays defined when a variant has no error, or
 *    nothing but errors, in the window (the plain estimate's standard error is then 0). The step
 *    fails when P(Z >= z) < alpha. A 5xx is a request the variant failed on valid input (4xx are
 *    the caller's and are not counted). Any canary 5xx also trips the rollback alarm at once; this
 *    test is what catches a rate too low to stand out in one minute but higher than the champion's.
 * 2. **p99 latency**: canary p99 <= champion p99 × (1 + maxP99Increase) + 5 ms over the window. A
 *    threshold, not a test (a p99 of 200 requests is the 2nd-3rd slowest); the 5 ms absorb timer
 *    noise at the sub-millisecond latencies of small models.
 * 3. **Prediction distribution**: a chi-square test of homogeneity on the 2 × k table of predicted
 *    classes (canary, champion). Classes neither variant predicted are left out; classes whose
 *    expected count is below 5 in either row are pooled (smallest first) until every cell expects
 *    at least 5; df = k' − 1 for the k' categories left; the p-value is Q(df/2, X²/2). The step
 *    fails when p < alpha. With fewer than two categories left (everything one class) there is
 *    nothing to compare and the check does not apply. Callers are assigned to variants by a hash,
 *    so both see the same mix of inputs and a different mix of answers is the model's doing.
 *
 * Live accuracy (issue 14, labelled feedback) is not judged yet: no feedback exists to judge it
 * on. Its place is LIVE_CHECKS below: a check that reads `VariantStats.labelled` ({ correct,
 * total }, to be added with the feedback metrics) and, like the error rate, tests the canary's
 * accuracy against the champion's with a one-sided two-proportion z-test at `alpha`.
 */
import type { RolloutPlan } from '../registry/routing';
import { chiSquareSurvival, normalSurvival } from './statistics';

/** What one variant did in a window (the metrics the inference function records per variant). */
export interface VariantStats {
  /** Predict requests that reached the variant's model (answered, or refused after it was resolved). */
  readonly requests: number;
  /** 5xx answers among them. */
  readonly serverErrors: number;
  /** p99 of the variant's request latency in the window; undefined when none was recorded. */
  readonly p99LatencyMs: number | undefined;
  /** Predicted rows per class label. */
  readonly classCounts: Readonly<Record<string, number>>;
}

export type GatePlan = Pick<RolloutPlan, 'minRequests' | 'alpha' | 'maxErrorRateIncrease' | 'maxP99Increase'>;

export type CheckName = 'error-rate' | 'p99-latency' | 'prediction-distribution';

export interface CheckResult {
  readonly check: CheckName;
  readonly outcome: 'pass' | 'fail' | 'not-applicable';
  /** What was compared and how it came out, in words (it ends up in the history and the notice). */
  readonly detail: string;
  /** z (error rate), X² (prediction distribution), canary p99 in ms (latency). */
  readonly statistic?: number;
  readonly pValue?: number;
}

export type GateVerdict =
  | { readonly verdict: 'pass'; readonly reason: string; readonly checks: readonly CheckResult[] }
  | { readonly verdict: 'fail'; readonly reason: string; readonly checks: readonly CheckResult[] }
  | { readonly verdict: 'insufficient'; readonly reason: string; readonly checks: readonly CheckResult[] };

/** Added to the champion's p99 (× (1 + maxP99Increase)) before the canary's is compared with it. */
const P99_SLACK_MS = 5;
/** The smallest expected cell count the chi-square approximation is trusted with (Cochran's rule). */
const MIN_EXPECTED_COUNT = 5;

type Check = (canary: VariantStats, champion: VariantStats, plan: GatePlan) => CheckResult;

const percent = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 2)}%`;
const pText = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

const errorRateCheck: Check = (canary, champion, plan) => {
  const nc = canary.requests;
  const nb = champion.requests;
  // Counts come from separate metric queries; never let errors exceed requests.
  const ec = Math.min(canary.serverErrors, nc);
  const eb = Math.min(champion.serverErrors, nb);
  const pc = (ec + 1) / (nc + 2);
  const pb = (eb + 1) / (nb + 2);
  const se = Math.sqrt((pc * (1 - pc)) / (nc + 2) + (pb * (1 - pb)) / (nb + 2));
  const z = (pc - pb - plan.maxErrorRateIncrease) / se;
  const p = normalSurvival(z);
  const rates = `canary ${ec}/${nc} (${percent(nc ? ec / nc : 0)}) vs champion ${eb}/${nb} (${percent(nb ? eb / nb : 0)})`;
  const allowed = `the champion's + ${percent(plan.maxErrorRateIncrease)}`;
  return p < plan.alpha
    ? {
        check: 'error-rate',
        outcome: 'fail',
        statistic: z,
        pValue: p,
        detail: `server error rate ${rates} is above ${allowed} (one-sided z-test, z = ${z.toFixed(2)}, p = ${pText(p)} < alpha ${plan.alpha})`,
      }
    : {
        check: 'error-rate',
        outcome: 'pass',
        statistic: z,
        pValue: p,
        detail: `server error rate ${rates}: not shown above ${allowed} (z = ${z.toFixed(2)}, p = ${pText(p)})`,
      };
};

const p99LatencyCheck: Check = (canary, champion, plan) => {
  const c = canary.p99LatencyMs;
  const b = champion.p99LatencyMs;
  if (c === undefined || b === undefined) {
    return {
      check: 'p99-latency',
      outcome: 'not-applicable',
      detail: `no latency recorded for the ${c === undefined ? 'canary' : 'champion'} in the window`,
    };
  }
  const limit = b * (1 + plan.maxP99Increase) + P99_SLACK_MS;
  const text = `p99 latency ${c.toFixed(1)} ms vs champion ${b.toFixed(1)} ms (limit ${limit.toFixed(1)} ms = champion × ${1 + plan.maxP99Increase} + ${P99_SLACK_MS} ms)`;
  return {
    check: 'p99-latency',
    outcome: c > limit ? 'fail' : 'pass',
    statistic: c,
    detail: c > limit ? `${text} is too slow` : text,
  };
};

interface Category {
  readonly label: string;
  readonly canary: number;
  readonly champion: number;
}

/**
 * Classes with an expected count below MIN_EXPECTED_COUNT in either row, pooled smallest first
 * into one category until it and every class left expect at least that many.
 */
export function poolCategories(classes: readonly Category[], canaryTotal: number, championTotal: number): Category[] {
  const total = canaryTotal + championTotal;
  // expected = rowTotal × columnTotal / total >= 5 in both rows  <=>  columnTotal >= 5 × total / smaller row
  const needed = (MIN_EXPECTED_COUNT * total) / Math.min(canaryTotal, championTotal);
  const ascending = classes
    .filter((c) => c.canary + c.champion > 0)
    .sort((a, b) => a.canary + a.champion - (b.canary + b.champion) || (a.label < b.label ? -1 : 1));
  const pooled: Category[] = [];
  let i = 0;
  let pooledTotal = 0;
  while (
    i < ascending.length &&
    (ascending[i].canary + ascending[i].champion < needed || (pooled.length > 0 && pooledTotal < needed))
  ) {
    pooled.push(ascending[i]);
    pooledTotal += ascending[i].canary + ascending[i].champion;
    i++;
  }
  const rest = ascending.slice(i);
  if (pooled.length === 0) return rest;
  if (pooled.length === 1) return [pooled[0], ...rest];
  const merged = {
    label: pooled.map((c) => c.label).join(' + '),
    canary: pooled.reduce((s, c) => s + c.canary, 0),
    champion: pooled.reduce((s, c) => s + c.champion, 0),
  };
  return [merged, ...rest];
}

const predictionDistributionCheck: Check = (canary, champion, plan) => {
  const labels = [...new Set([...Object.keys(canary.classCounts), ...Object.keys(champion.classCounts)])];
  const classes = labels.map((label) => ({
    label,
    canary: canary.classCounts[label] ?? 0,
    champion: champion.classCounts[label] ?? 0,
  }));
  const canaryTotal = classes.reduce((s, c) => s + c.canary, 0);
  const championTotal = classes.reduce((s, c) => s + c.champion, 0);
  if (canaryTotal === 0 || championTotal === 0) {
    return {
      check: 'prediction-distribution',
      outcome: 'not-applicable',
      detail: `no predictions recorded for the ${canaryTotal === 0 ? 'canary' : 'champion'} in the window`,
    };
  }
  const categories = poolCategories(classes, canaryTotal, championTotal);
  if (categories.length < 2) {
    return {
      check: 'prediction-distribution',
      outcome: 'not-applicable',
      detail: `predictions fall into ${categories.length} class (after pooling classes with fewer than ${MIN_EXPECTED_COUNT} expected): nothing to compare`,
    };
  }
  const total = canaryTotal + championTotal;
  let x2 = 0;
  for (const c of categories) {
    const column = c.canary + c.champion;
    for (const [observed, row] of [
      [c.canary, canaryTotal],
      [c.champion, championTotal],
    ] as const) {
      const expected = (row * column) / total;
      x2 += ((observed - expected) * (observed - expected)) / expected;
    }
  }
  const df = categories.length - 1;
  const p = chiSquareSurvival(x2, df);
  const shares = [...categories]
    .sort((a, b) => (a.label < b.label ? -1 : 1))
    .map((c) => `${c.label} ${percent(c.canary / canaryTotal)} vs ${percent(c.champion / championTotal)}`)
    .join(', ');
  const text = `predicted classes (canary vs champion, ${canaryTotal} and ${championTotal} rows): ${shares}; chi-square ${x2.toFixed(2)}, df ${df}, p = ${pText(p)}`;
  return p < plan.alpha
    ? {
        check: 'prediction-distribution',
        outcome: 'fail',
        statistic: x2,
        pValue: p,
        detail: `${text} < alpha ${plan.alpha}: the canary answers differently`,
      }
    : { check: 'prediction-distribution', outcome: 'pass', statistic: x2, pValue: p, detail: text };
};

/** The checks every step runs, in order. Issue 14's live accuracy check goes here (see the file comment). */
const LIVE_CHECKS: readonly Check[] = [errorRateCheck, p99LatencyCheck, predictionDistributionCheck];

/** Judges one step's window: canary against champion under the plan's sample size and significance. */
export function judgeStep(canary: VariantStats, champion: VariantStats, plan: GatePlan): GateVerdict {
  const short = (['canary', 'champion'] as const).filter(
    (v) => (v === 'canary' ? canary : champion).requests < plan.minRequests,
  );
  if (short.length > 0) {
    const counts = short.map((v) => `the ${v} answered ${(v === 'canary' ? canary : champion).requests}`).join(' and ');
    return {
      verdict: 'insufficient',
      reason: `${counts} of the ${plan.minRequests} requests each variant needs to be judged`,
      checks: [],
    };
  }
  const checks = LIVE_CHECKS.map((check) => check(canary, champion, plan));
  const failed = checks.filter((c) => c.outcome === 'fail');
  if (failed.length > 0) return { verdict: 'fail', reason: failed.map((c) => c.detail).join('; '), checks };
  return { verdict: 'pass', reason: checks.map((c) => c.detail).join('; '), checks };
}
