import type { GateMetric } from './model-spec';

export interface GateConfig {
  readonly metric: GateMetric;
  /** How much the candidate must beat the champion by (absolute, same unit as the metric). */
  readonly margin: number;
  /** The score no model may be promoted below, champion or not. */
  readonly floor: number;
}

export interface ScoredMetrics {
  readonly accuracy: number;
  readonly macroF1: number;
}

export interface GateInput {
  readonly candidate: { readonly metrics: ScoredMetrics };
  /** The current champion, scored on the same holdout as the candidate (else the comparison is meaningless). */
  readonly champion?: { readonly version: number; readonly metrics: ScoredMetrics };
  readonly gate: GateConfig;
}

export interface GateDecision {
  readonly promote: boolean;
  readonly reason: string;
  readonly metric: GateMetric;
  readonly candidateScore: number;
  readonly championScore?: number;
  readonly margin: number;
}

/**
 * Scores are sums of float divisions, so 0.9 + 0.05 lands a hair above 0.95: without a tolerance
 * a candidate exactly at the margin (or floor) would be rejected.
 */
const TOLERANCE = 1e-9;

const fmt = (score: number) => score.toFixed(4);

/**
 * Promote when the candidate clears the floor and, if there is a champion, beats it by the margin.
 * Pure: the reason is what a user sees in the registry for a rejected challenger.
 */
export function decidePromotion({ candidate, champion, gate }: GateInput): GateDecision {
  const { metric, margin, floor } = gate;
  const candidateScore = candidate.metrics[metric];
  const championScore = champion?.metrics[metric];
  const decide = (promote: boolean, reason: string): GateDecision => ({
    promote,
    reason,
    metric,
    candidateScore,
    championScore,
    margin,
  });

  if (!Number.isFinite(candidateScore))
    return decide(false, `${metric} of the candidate is not a number (${candidateScore})`);
  if (candidateScore < floor - TOLERANCE) {
    return decide(false, `${metric} ${fmt(candidateScore)} is below the floor ${floor}`);
  }
  if (!champion)
    return decide(true, `${metric} ${fmt(candidateScore)} clears the floor ${floor} and there is no champion yet`);
  if (championScore === undefined || !Number.isFinite(championScore)) {
    // A champion whose score cannot be read cannot be defended; the floor already holds.
    return decide(
      true,
      `${metric} ${fmt(candidateScore)} clears the floor ${floor}; champion v${champion.version} has no usable ${metric}`,
    );
  }
  if (candidateScore - championScore >= margin - TOLERANCE) {
    return decide(
      true,
      `${metric} ${fmt(candidateScore)} beats champion v${champion.version}'s ${fmt(championScore)} by at least the margin ${margin}`,
    );
  }
  return decide(
    false,
    `${metric} ${fmt(candidateScore)} does not beat champion v${champion.version}'s ${fmt(championScore)} by the margin ${margin}`,
  );
}
