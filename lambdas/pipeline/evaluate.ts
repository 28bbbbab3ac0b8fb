import { toModelInputs, type FeatureValue } from '../../core/features';
import type { ModelManifest } from '../../core/manifest';
import { createSession, toOrtFeeds } from '../../core/onnx-session';
import { decidePromotion } from '../../core/pipeline/gate';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { DEFAULT_ALIAS } from '../../core/registry/types';
import { cellWritten, type TypedTable } from '../../core/data/columns';
import { classificationMetrics } from '../../training/metrics';
import { pickBest, TIE_TOLERANCE } from '../../training/selection';
import { sameSplit, type SplitRecord } from '../../training/split';
import { labelledSplit } from '../../training/train';
import type {
  CandidateResult,
  Comparison,
  DataManifest,
  EvaluationResult,
  ExecutionInput,
  PrepareResult,
  Scores,
} from '../../core/pipeline/contract';
import { loadRunData } from './data';
import { specFor, type StepDeps } from './deps';
import { comparisonRowsKey } from './keys';
import { readDataManifest } from './prepare';
import { readCandidate } from './candidates';
import { TrainingFailedError } from '../../core/pipeline/errors';

export type EvaluateInput = ExecutionInput & {
  readonly prepare: PrepareResult;
  readonly candidates: readonly CandidateResult[];
};

/**
 * The best candidate by selection score on the spec's metric; candidates within TIE_TOLERANCE of
 * it tie, and the one with the fewest parameters wins (training/selection.ts, as in the training CLI).
 */
export function bestCandidate(
  candidates: readonly CandidateResult[],
  metric: keyof Scores,
): { best: CandidateResult; reason: string } {
  if (candidates.length === 0) throw new TrainingFailedError('no candidates were trained: nothing to evaluate');
  const pick = pickBest(
    candidates.map((c) => ({ algorithm: c.algorithm, score: c.validation[metric], parameters: c.parameters })),
    TIE_TOLERANCE,
    `${metric === 'macroF1' ? 'macro F1' : 'accuracy'} (selection score)`,
  );
  return { best: candidates[pick.index], reason: pick.reason };
}

/**
 * Rows of the table (by index) as the file wrote them (cellWritten: each cell's text, blanks
 * included), with their labels trimmed, as scoreOnRows takes them: what the string rows held.
 */
function rowsAt(
  table: TypedTable,
  label: string,
  indices: ArrayLike<number>,
): { rows: Record<string, string>[]; labels: string[] } {
  const labelColumn = table.data[table.columns.indexOf(label)];
  const rows = Array.from(indices, (r) =>
    Object.fromEntries(table.columns.map((c, j) => [c, cellWritten(table.data[j], r)])),
  );
  return { rows, labels: Array.from(indices, (r) => cellWritten(labelColumn, r).trim()) };
}

/** The run's holdout rows, exactly as training split them (the same data, columns and seed). */
export function holdoutRows(
  table: TypedTable,
  columns: { label: string; exclude?: readonly string[] },
  seed: number,
): { rows: Record<string, string>[]; labels: string[] } {
  return rowsAt(table, columns.label, labelledSplit(table, columns, seed).split.holdout);
}

/**
 * Scores a model on raw rows through its own manifest's features (whatever encoder it was
 * trained with). True labels the model never saw count as misses (their class gets zero probability).
 */
async function scoreOnRows(
  manifest: ModelManifest,
  onnx: Uint8Array,
  rows: readonly Record<string, FeatureValue>[],
  labels: readonly string[],
): Promise<Scores> {
  const classes = [...manifest.classes, ...[...new Set(labels)].filter((l) => !manifest.classes.includes(l))];
  const session = await createSession(onnx);
  const output = await session.run(toOrtFeeds(toModelInputs(manifest.features, rows)));
  const own = output[manifest.outputs.probabilities].data as Float32Array;
  const k = manifest.classes.length;
  const probabilities = new Float64Array(rows.length * classes.length);
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < k; j++) probabilities[i * classes.length + j] = own[i * k + j];
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (l) => index.get(l) as number);
  const m = classificationMetrics(y, probabilities, classes);
  return { accuracy: m.accuracy, macroF1: m.macroF1 };
}

interface ChampionModel {
  readonly version: number;
  readonly manifest: ModelManifest;
  readonly onnx: Uint8Array;
}

async function loadChampion(deps: StepDeps, model: string): Promise<ChampionModel | undefined> {
  const alias = await deps.registry.resolveAlias(model, DEFAULT_ALIAS);
  if (alias === undefined || alias === 'unchanged') return undefined;
  const version = alias.record.version;
  const [manifest, onnx] = await Promise.all([
    deps.registry.getManifest(model, version),
    deps.registry.getModelBytes(model, version),
  ]);
  return { version, manifest, onnx };
}

/**
 * Which of the run's holdout rows the champion can be judged on, and why.
 * Same split function, seed, holdout share and content columns: the whole holdout (the champion's
 * training rows were all outside it). Otherwise only holdout rows from files processed after the
 * champion was registered: deduplication keeps rows it may have seen out of those files.
 */
function comparableRows(
  holdout: Int32Array,
  table: TypedTable,
  data: DataManifest,
  run: SplitRecord,
  champion: ChampionModel,
): { basis: Comparison['basis']; indices: Int32Array; why?: string } {
  if (sameSplit(champion.manifest.split, run)) return { basis: 'shared-split', indices: holdout };
  const since = champion.manifest.registration?.registeredAt ?? champion.manifest.createdAt;
  const fresh = data.files.map((f) => f.processedAt > since);
  const indices = Int32Array.from(Array.from(holdout).filter((r) => fresh[table.origin.file[r]]));
  const scheme = champion.manifest.split?.scheme
    ? `split "${champion.manifest.split.scheme}" (seed ${champion.manifest.split.seed})`
    : 'no recorded split scheme';
  const why = `champion v${champion.version} was made with ${scheme}, not this run's "${run.scheme}" (seed ${run.seed}), so it may have trained on this run's holdout rows`;
  return indices.length > 0
    ? { basis: 'rows-after-champion', indices, why }
    : { basis: 'not-comparable', indices, why };
}

async function writeComparisonRows(
  deps: StepDeps,
  input: EvaluateInput,
  digests: readonly string[],
  indices: Int32Array,
): Promise<string> {
  const key = comparisonRowsKey(input.model, input.prepare.runId);
  const lines: string[] = new Array<string>(indices.length);
  for (let i = 0; i < indices.length; i++) lines[i] = digests[indices[i]];
  await deps.modelStore.put(key, lines.length > 0 ? `${lines.join('\n')}\n` : '', { contentType: 'text/plain' });
  return key;
}

const NOT_A_SCORE: Scores = { accuracy: Number.NaN, macroF1: Number.NaN };

/**
 * Picks the best candidate (selection score, ties to the simpler model), then scores it and the
 * champion with their own ONNX models on the same rows, rows neither trained on (see
 * comparableRows), records those rows' digests in runs/<model>/<runId>/comparison-rows.txt, and
 * applies the spec's gate. A champion that cannot be judged fairly (no comparable rows, or its
 * features are missing from the data) is not defended: the gate's floor decides, and the reason says why.
 */
export async function evaluate(input: EvaluateInput, deps: StepDeps): Promise<EvaluationResult> {
  const spec: ModelSpec = specFor(deps, input.model);
  const { best, reason: selection } = bestCandidate(input.candidates, spec.training.selectionMetric);
  const data = await readDataManifest(deps, input.prepare.dataManifestKey);
  const [table, candidate, champion] = await Promise.all([
    loadRunData(deps, data),
    readCandidate(deps, best.candidatePrefix),
    loadChampion(deps, input.model),
  ]);
  const columns = { label: spec.data.label, exclude: spec.data.exclude };
  const { split, digests, record } = labelledSplit(
    table,
    columns,
    input.prepare.seed,
    candidate.manifest.split.fractions,
  );

  const missing = champion
    ? champion.manifest.features.map((f) => f.name).filter((name) => !table.columns.includes(name))
    : [];
  const judged =
    champion && missing.length === 0 ? comparableRows(split.holdout, table, data, record, champion) : undefined;
  const indices = judged && judged.basis !== 'not-comparable' ? judged.indices : split.holdout;
  const { rows, labels } = rowsAt(table, spec.data.label, indices);
  const candidateScores = await scoreOnRows(candidate.manifest, candidate.onnx, rows, labels);
  const championScores =
    champion && judged && judged.basis !== 'not-comparable'
      ? await scoreOnRows(champion.manifest, champion.onnx, rows, labels)
      : undefined;

  const basis: Comparison['basis'] = !champion ? 'no-champion' : judged ? judged.basis : 'not-comparable';
  const comparison: Comparison = {
    basis,
    rows: indices.length,
    rowsKey: await writeComparisonRows(deps, input, digests, indices),
  };
  const decision = decidePromotion({
    candidate: { metrics: candidateScores },
    champion: champion && { version: champion.version, metrics: championScores ?? NOT_A_SCORE },
    gate: spec.gate,
  });
  let reason = decision.reason;
  if (champion && missing.length > 0) reason = `${reason} (its features ${missing.join(', ')} are not in the data)`;
  else if (judged?.basis === 'not-comparable')
    reason = `${reason}: it could not be scored fairly (${judged.why}, and no rows were added after it was registered)`;
  else if (judged?.basis === 'rows-after-champion')
    reason = `${reason}, on the ${indices.length} holdout rows added after it was registered (${judged.why})`;
  else if (champion) reason = `${reason}, on ${indices.length} holdout rows neither model trained on`;
  else reason = `${reason} (holdout: ${indices.length} rows)`;
  return {
    best,
    selection,
    candidate: candidateScores,
    ...(champion && championScores ? { champion: { version: champion.version, holdout: championScores } } : {}),
    championAtEvaluation: champion?.version ?? null,
    comparison,
    decision: { promote: decision.promote, reason: `${best.algorithm}: ${reason}` },
  };
}
