import { toModelInputs, type FeatureValue } from '../../core/features';
import type { ModelManifest } from '../../core/manifest';
import { createSession, toOrtFeeds } from '../../core/onnx-session';
import { decidePromotion } from '../../core/pipeline/gate';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { DEFAULT_ALIAS } from '../../core/registry/types';
import type { RawTable } from '../../training/data/load';
import { classificationMetrics } from '../../training/metrics';
import { labelledSplit } from '../../training/train';
import type { CandidateResult, EvaluationResult, ExecutionInput, PrepareResult, Scores } from '../../core/pipeline/contract';
import { loadProcessed } from './data';
import { specFor, type StepDeps } from './deps';

export type EvaluateInput = ExecutionInput & { readonly prepare: PrepareResult; readonly candidates: readonly CandidateResult[] };

/** The best candidate by validation score on the selection metric; ties keep the earlier one (as training does). */
export function bestCandidate(candidates: readonly CandidateResult[], metric: keyof Scores): CandidateResult {
  if (candidates.length === 0) throw new Error('no candidates were trained: nothing to evaluate');
  return candidates.reduce((a, b) => (b.validation[metric] > a.validation[metric] ? b : a));
}

/** The run's holdout rows, exactly as training split them (the same data, label and seed). */
export function holdoutRows(table: RawTable, columns: { label: string; exclude?: readonly string[] }, seed: number): { rows: Record<string, string>[]; labels: string[] } {
  const { classes, y, split } = labelledSplit(table, columns, seed);
  const { holdout } = split;
  const rows = Array.from(holdout, (r) => Object.fromEntries(table.columns.map((c, j) => [c, table.rows[r][j]])));
  return { rows, labels: Array.from(holdout, (r) => classes[y[r]]) };
}

/**
 * Scores a model on raw rows through its own manifest's features (whatever encoder it was
 * trained with). True labels the model never saw count as misses (their class gets zero probability).
 */
export async function scoreOnRows(manifest: ModelManifest, onnx: Uint8Array, rows: readonly Record<string, FeatureValue>[], labels: readonly string[]): Promise<Scores> {
  const classes = [...manifest.classes, ...[...new Set(labels)].filter((l) => !manifest.classes.includes(l))];
  const session = await createSession(onnx);
  const output = await session.run(toOrtFeeds(toModelInputs(manifest.features, rows)));
  const own = output[manifest.outputs.probabilities].data as Float32Array;
  const k = manifest.classes.length;
  const probabilities = new Float64Array(rows.length * classes.length);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < k; j++) probabilities[i * classes.length + j] = own[i * k + j];
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (l) => index.get(l) as number);
  const m = classificationMetrics(y, probabilities, classes);
  return { accuracy: m.accuracy, macroF1: m.macroF1 };
}

interface ChampionScore {
  readonly version: number;
  /** Undefined when the champion cannot be scored on this data (its features are not in it). */
  readonly holdout?: Scores;
  readonly missing: readonly string[];
}

async function scoreChampion(deps: StepDeps, spec: ModelSpec, input: EvaluateInput): Promise<ChampionScore | undefined> {
  const alias = await deps.registry.resolveAlias(input.model, DEFAULT_ALIAS);
  if (alias === undefined || alias === 'unchanged') return undefined;
  const version = alias.record.version;
  const manifest = await deps.registry.getManifest(input.model, version);
  const table = await loadProcessed(deps, input.prepare.dataKeys);
  const missing = manifest.features.map((f) => f.name).filter((name) => !table.columns.includes(name));
  if (missing.length > 0) return { version, missing };
  const { rows, labels } = holdoutRows(table, { label: spec.data.label, exclude: spec.data.exclude }, input.prepare.seed);
  const holdout = await scoreOnRows(manifest, await deps.registry.getModelBytes(input.model, version), rows, labels);
  return { version, holdout, missing };
}

/**
 * Picks the best candidate (validation score on the spec's selection metric) and scores the
 * champion on the same holdout rows the candidates were scored on, then applies the spec's gate.
 * A champion whose features are missing from the new data cannot be scored: the gate is given
 * NaN scores for it, and decidePromotion then promotes the candidate if it clears the floor
 * ("champion vN has no usable <metric>"); the result then has no `champion` scores, and the
 * reason names the missing features.
 */
export async function evaluate(input: EvaluateInput, deps: StepDeps): Promise<EvaluationResult> {
  const spec = specFor(deps, input.model);
  const best = bestCandidate(input.candidates, spec.training.selectionMetric);
  const champion = await scoreChampion(deps, spec, input);
  const unusable = { accuracy: Number.NaN, macroF1: Number.NaN };
  const decision = decidePromotion({
    candidate: { metrics: best.holdout },
    champion: champion && { version: champion.version, metrics: champion.holdout ?? unusable },
    gate: spec.gate,
  });
  const reason = champion && !champion.holdout ? `${decision.reason} (its features ${champion.missing.join(', ')} are not in the data)` : decision.reason;
  return {
    best,
    ...(champion?.holdout ? { champion: { version: champion.version, holdout: champion.holdout } } : {}),
    decision: { promote: decision.promote, reason: `${best.algorithm}: ${reason}` },
  };
}
