import { UnknownModelError } from '../../core/registry/types';
import { AliasMovedError } from '../../core/registry/aliases';
import { PreconditionFailedError } from '../../core/object-store';
import { droppedRowsWarning } from '../../training/data/warnings';
import type {
  CandidateResult,
  DataFile,
  EvaluationResult,
  ExecutionInput,
  PrepareResult,
  RegistrationResult,
  RunSummary,
} from '../../core/pipeline/contract';
import { type StepDeps, specFor } from './deps';
import { NO_METRICS, PIPELINE_METRICS } from './metrics';
import { summaryKey } from './keys';
import { readCandidate } from './candidates';
import { removeUpload } from './upload-lifecycle';
import { readDataManifest } from './prepare';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { type CanaryRoute, DEFAULT_ROLLOUT_PLAN, type RolloutPlan } from '../../core/registry/routing';
import { RoutingConflictError, RoutingRefusedError, RoutingStore } from '../../core/registry/routing-store';

export type RegisterInput = ExecutionInput & {
  readonly prepare: PrepareResult;
  readonly candidates: readonly CandidateResult[];
  readonly evaluation: EvaluationResult;
};

/** A version this execution registered before (a retry after register wrote it), newest first. */
async function registeredBy(deps: StepDeps, model: string, execution: string): Promise<number | undefined> {
  let versions: number[];
  try {
    versions = (await deps.registry.listVersions(model)).map((v) => v.version);
  } catch (error) {
    if (error instanceof UnknownModelError) return undefined;
    throw error;
  }
  for (const version of versions.reverse()) {
    if ((await deps.registry.getManifest(model, version)).pipelineExecution === execution) return version;
  }
  return undefined;
}

/**
 * Registers the best candidate as a new version (parent: the champion it was compared with),
 * then points 'champion' at it when the gate promoted it, else 'challenger', with the gate's
 * reason; writes the run's summary. A retry finds the version this execution registered
 * (manifest.pipelineExecution) instead of registering a second one; alias moves are no-ops when done.
 */
export async function register(input: RegisterInput, deps: StepDeps): Promise<RegistrationResult> {
  const { model, execution, evaluation } = input;
  const actor = `pipeline:${execution}`;
  const { promote } = evaluation.decision;
  const expected = evaluation.championAtEvaluation;
  // The model's spec decides its features: a version it trained may change the schema (recorded).
  const allowSchemaChange = { reason: `retrained from config/models/${model}.json` };
  let version = await registeredBy(deps, model, execution);
  if (version === undefined) {
    const { onnx, manifest } = await readCandidate(deps, evaluation.best.candidatePrefix);
    const parentVersion = expected ?? evaluation.champion?.version ?? undefined;
    const registered = await deps.registry.register(
      model,
      onnx,
      { ...manifest, parentVersion, pipelineExecution: execution },
      {
        actor,
        reason: evaluation.decision.reason,
        parentVersion,
        pipelineExecution: execution,
        allowSchemaChange,
      },
    );
    version = registered.version;
  }
  const decision = await moveAliases(deps, model, version, {
    actor,
    allowSchemaChange,
    promote,
    reason: evaluation.decision.reason,
    expected,
  });
  const registration: RegistrationResult = {
    version,
    alias: decision.promote ? 'champion' : 'challenger',
    promoted: decision.promote,
    ...(promote && !decision.promote && !decision.canary ? { note: decision.reason } : {}),
    ...(decision.canary ? { canary: decision.canary } : {}),
  };
  const data = await readDataManifest(deps, input.prepare.dataManifestKey);
  const summary: RunSummary = {
    model,
    execution,
    runId: input.prepare.runId,
    trigger: input.trigger,
    ...(input.reportKey ? { driftReport: input.reportKey } : {}),
    finishedAt: deps.clock().toISOString(),
    data: {
      manifestKey: input.prepare.dataManifestKey,
      files: data.files,
      availableFiles: data.availableFiles,
      ...(data.window ? { window: data.window } : {}),
      rows: input.prepare.rows,
      sha256: input.prepare.dataSha256,
      seed: input.prepare.seed,
    },
    // Absent in a state written before the engine choice existed (a run resumed across a deploy).
    ...(input.prepare.engine ? { training: { engine: input.prepare.engine, reason: input.prepare.engineReason } } : {}),
    candidates: input.candidates,
    best: evaluation.best.algorithm,
    selection: evaluation.selection,
    warnings: runWarnings(input.candidates, data.files),
    candidate: evaluation.candidate,
    ...(evaluation.champion ? { champion: evaluation.champion } : {}),
    comparedWith: expected ?? null,
    comparison: evaluation.comparison,
    decision: { promote: decision.promote, reason: decision.reason },
    registration,
  };
  await writeOnce(deps, summaryKey(model, input.prepare.runId), summary);
  // The run has its outcome: only now does its upload leave incoming/ (its rows are in processed/).
  if (input.trigger === 'upload') await removeUpload(deps, input.key, input.etag);
  reportRun(deps, input, summary);
  return registration;
}

const versionName = (v: number | null) => (v === null ? 'no champion' : `v${v}`);

/**
 * Points 'champion' at the version when the gate promoted it, but only if the champion is still the
 * version Evaluate compared with (conditional on the alias record): two runs of one model gated
 * against the same champion cannot both replace it. The loser is registered as 'challenger' with
 * the reason, and a later run compares it with the new champion. Else 'challenger' with the gate's reason.
 */
async function moveAliases(
  deps: StepDeps,
  model: string,
  version: number,
  move: {
    actor: string;
    allowSchemaChange: { reason: string };
    promote: boolean;
    reason: string;
    expected: number | null | undefined;
  },
): Promise<{ promote: boolean; reason: string; canary?: RegistrationResult['canary'] }> {
  const { actor, allowSchemaChange, reason } = move;
  const promotion = specFor(deps, model).promotion;
  if (
    move.promote &&
    promotion !== undefined &&
    promotion !== 'direct' &&
    move.expected !== null &&
    move.expected !== undefined
  ) {
    return startRollout(
      deps,
      model,
      version,
      { ...DEFAULT_ROLLOUT_PLAN, ...promotion.canary },
      { actor, allowSchemaChange, reason, expected: move.expected },
    );
  }
  if (move.promote) {
    try {
      const condition = move.expected === undefined ? {} : { ifCurrentVersion: move.expected };
      await deps.registry.promote(model, version, {
        alias: 'champion',
        actor,
        reason,
        allowSchemaChange,
        ...condition,
      });
      return { promote: true, reason };
    } catch (error) {
      if (!(error instanceof AliasMovedError)) throw error;
      const moved = `${reason}; not promoted: the champion moved from ${versionName(error.expected)} to ${versionName(error.current)} while this run was evaluated, and this version was never compared with ${versionName(error.current)}`;
      await deps.registry.promote(model, version, { alias: 'challenger', actor, reason: moved, allowSchemaChange });
      return { promote: false, reason: moved };
    }
  }
  await deps.registry.promote(model, version, { alias: 'challenger', actor, reason, allowSchemaChange });
  return { promote: false, reason };
}

/**
 * The spec's promotion is a canary plan and the model has a champion: the version becomes the
 * challenger and a rollout starts (routing document + rollout request; the rollout state machine
 * moves the weight and promotes or aborts it on live metrics). Only if the champion is still the
 * one Evaluate compared with; a canary already rolling out, or a version the routing store refuses,
 * leaves it a challenger with the reason. A retry finds the canary it started.
 */
async function startRollout(
  deps: StepDeps,
  model: string,
  version: number,
  plan: RolloutPlan,
  move: { actor: string; allowSchemaChange: { reason: string }; reason: string; expected: number },
): Promise<{ promote: boolean; reason: string; canary?: RegistrationResult['canary'] }> {
  const { actor, allowSchemaChange } = move;
  const routing =
    deps.routing ?? new RoutingStore(deps.modelStore, deps.registry, new OnnxModelValidator(), deps.clock);
  /** The version is the challenger while it rolls out (the rollout promotes it or says why not). */
  const started = async (canary: CanaryRoute) => {
    const reason = `${move.reason}; rolling out as a canary: ${canary.weight}% of callers first (steps ${plan.steps.join(' -> ')}%, ${plan.bakeSeconds} s each, judged on live metrics against v${move.expected}), champion v${move.expected} keeps serving the rest`;
    await deps.registry.promote(model, version, { alias: 'challenger', actor, reason, allowSchemaChange });
    return {
      promote: false,
      reason,
      canary: { rolloutId: canary.rolloutId, weight: canary.weight, steps: plan.steps, bakeSeconds: plan.bakeSeconds },
    };
  };
  const current = (await routing.read(model))?.document;
  if (current?.canary?.version === version) {
    // A retry: the start may have died between the routing document and the rollout request.
    await routing.requestRollout(model, current, { actor, reason: move.reason });
    return started(current.canary);
  }
  const notRolledOut = async (why: string) => {
    const reason = `${move.reason}; not rolled out: ${why}`;
    await deps.registry.promote(model, version, { alias: 'challenger', actor, reason, allowSchemaChange });
    return { promote: false, reason };
  };
  const champion = await deps.registry.resolveAlias(model, 'champion');
  const now = champion && champion !== 'unchanged' ? champion.record.version : null;
  if (now !== move.expected) {
    return notRolledOut(
      `the champion moved from ${versionName(move.expected)} to ${versionName(now)} while this run was evaluated, and this version was never compared with ${versionName(now)}`,
    );
  }
  let document;
  try {
    document = await routing.startCanary(model, version, { plan, actor, reason: move.reason });
  } catch (error) {
    if (error instanceof RoutingConflictError || error instanceof RoutingRefusedError)
      return notRolledOut(error.message);
    throw error;
  }
  if (!document.canary) throw new Error(`unreachable: the routing document of ${model} has no canary after a start`);
  return started(document.canary);
}

/** Run records are written once: a retried step finds the record there and keeps it. */
async function writeOnce(deps: StepDeps, key: string, record: unknown): Promise<void> {
  try {
    await deps.modelStore.put(key, JSON.stringify(record, null, 2), {
      contentType: 'application/json',
      condition: { ifNoneMatch: '*' },
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
}

/** The data warnings of every candidate (once each), and the rows the contract dropped from the files used. */
function runWarnings(candidates: readonly CandidateResult[], files: readonly DataFile[]): string[] {
  const dropped = files.reduce((sum, f) => sum + (f.droppedByContract ?? 0), 0);
  const kept = files.reduce((sum, f) => sum + f.rows, 0);
  const contract = droppedRowsWarning(dropped, kept + dropped, 'see the reports next to the processed files');
  return [...new Set([...candidates.flatMap((c) => c.warnings), ...(contract ? [contract.message] : [])])];
}

/** The run's outcome as metrics: what the dashboard plots (scores over time) and alarms on. */
function reportRun(deps: StepDeps, input: RegisterInput, summary: RunSummary): void {
  const recorder = deps.recorder ?? NO_METRICS;
  const { model } = input;
  const metric = specFor(deps, model).gate.metric;
  const promoted = summary.registration.promoted;
  recorder.record({
    name: PIPELINE_METRICS.runs,
    unit: 'Count',
    value: 1,
    dimensions: { model, outcome: promoted ? 'promoted' : summary.registration.canary ? 'canary' : 'rejected' },
  });
  recorder.record({ name: PIPELINE_METRICS.promoted, unit: 'Count', value: promoted ? 1 : 0, dimensions: { model } });
  recorder.record({
    name: PIPELINE_METRICS.candidateScore,
    unit: 'None',
    value: input.evaluation.candidate[metric],
    dimensions: { model, metric },
  });
  if (input.evaluation.champion) {
    recorder.record({
      name: PIPELINE_METRICS.championScore,
      unit: 'None',
      value: input.evaluation.champion.holdout[metric],
      dimensions: { model, metric },
    });
  }
  const started = input.startedAt ? Date.parse(input.startedAt) : Number.NaN;
  if (Number.isFinite(started)) {
    recorder.record({
      name: PIPELINE_METRICS.runDuration,
      unit: 'Seconds',
      value: (Date.parse(summary.finishedAt) - started) / 1000,
      dimensions: { model },
    });
  }
}
