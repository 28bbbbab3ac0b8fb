import type { ModelManifest } from '../../core/manifest';
import type { ShadowRoute } from '../../core/registry/routing';
import { batchSize, type FeatureBatch } from '../../core/features';
import { type AppLog, elapsedMs, INFERENCE_METRICS, type MetricsRecorder } from './metrics';
import type { LoadedModel, ModelCache } from './model-cache';

/**
 * Shadow scoring: a version the routing document names as shadow scores the same validated rows
 * as the version that answered, after the answer is handed back (after-response.ts; in Lambda the
 * execution environment is held for it by post-response-extension.ts, so it runs within the same
 * invocation's lifetime but not in the time the caller waits). ShadowLatency is its time. Its result is
 * only compared and counted: it never changes the answer, its status or its headers, and a shadow
 * that fails is a ShadowErrors count and a log line, nothing else.
 */

export interface ShadowComparison {
  /** Share of rows whose shadow label equals the answer's label, 0..1. */
  readonly agreement: number;
  /** Mean over rows of the largest absolute difference of a class's probability, 0..1. */
  readonly probabilityDelta: number;
}

/** The label index of a row as toPredictions picks it: the highest probability, first on ties. */
function argmax(row: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

/**
 * Compares two versions' probabilities for the same rows. Classes are matched by name, so a
 * shadow with the classes in another order compares right; a class only one of them has counts
 * as probability 0 in the other.
 */
export function compareWithShadow(
  served: { readonly classes: readonly string[]; readonly probabilities: readonly (readonly number[])[] },
  shadow: { readonly classes: readonly string[]; readonly probabilities: readonly (readonly number[])[] },
): ShadowComparison {
  const rows = served.probabilities.length;
  if (rows === 0 || shadow.probabilities.length !== rows)
    throw new Error(`the shadow scored ${shadow.probabilities.length} rows for ${rows}`);
  const same =
    served.classes.length === shadow.classes.length && served.classes.every((c, k) => shadow.classes[k] === c);
  const shadowIndex = new Map(shadow.classes.map((c, k) => [c, k]));
  const onlyInShadow = shadow.classes.flatMap((c, k) => (served.classes.includes(c) ? [] : [k]));
  let agreeing = 0;
  let deltas = 0;
  for (let r = 0; r < rows; r++) {
    const a = served.probabilities[r];
    const b = shadow.probabilities[r];
    if (served.classes[argmax(a)] === shadow.classes[argmax(b)]) agreeing++;
    let delta = 0;
    for (let k = 0; k < a.length; k++) {
      const other = same ? b[k] : (b[shadowIndex.get(served.classes[k]) ?? -1] ?? 0);
      delta = Math.max(delta, Math.abs(a[k] - other));
    }
    for (const k of onlyInShadow) delta = Math.max(delta, Math.abs(b[k]));
    deltas += delta;
  }
  return { agreement: agreeing / rows, probabilityDelta: deltas / rows };
}

const sameFeatures = (a: ModelManifest, b: ModelManifest) =>
  a === b ||
  (a.features.length === b.features.length &&
    a.features.every((f, i) => f.name === b.features[i].name && f.type === b.features[i].type));

export interface ShadowScorerDeps {
  readonly models: Pick<ModelCache, 'version'>;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** @default performance.now */
  readonly now?: () => number;
}

export interface ShadowInput {
  readonly route: ShadowRoute;
  /** The version that answered, and what it answered for `rows`. */
  readonly served: LoadedModel;
  /** The validated instances: rows, or a columnar batch. */
  readonly rows: FeatureBatch;
  readonly probabilities: readonly (readonly number[])[];
}

/** A shadow that keeps failing would log on every sampled request; once a minute per model says it. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export class ShadowScorer {
  private readonly lastFailureLog = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: ShadowScorerDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  /** Scores the rows with the shadow and records the comparison; never throws. */
  async score(input: ShadowInput): Promise<void> {
    const { recorder } = this.deps;
    const { served, route, rows } = input;
    const start = performance.now();
    try {
      const shadow = await this.deps.models.version(served.name, route.version);
      // The rows were checked against the answering version's features; another schema would be imputed or refused silently.
      if (!sameFeatures(served.manifest, shadow.manifest))
        throw new Error(`shadow version ${route.version} takes other features than version ${served.version}`);
      const probabilities = await shadow.predictor.predict(rows);
      const { agreement, probabilityDelta } = compareWithShadow(
        { classes: served.manifest.classes, probabilities: input.probabilities },
        { classes: shadow.manifest.classes, probabilities },
      );
      recorder.record({
        name: INFERENCE_METRICS.shadowPredictions,
        unit: 'Count',
        value: batchSize(rows),
        dimensions: { model: served.name },
      });
      recorder.record({
        name: INFERENCE_METRICS.shadowAgreement,
        unit: 'None',
        value: agreement,
        dimensions: { model: served.name },
      });
      recorder.record({
        name: INFERENCE_METRICS.shadowProbabilityDelta,
        unit: 'None',
        value: probabilityDelta,
        dimensions: { model: served.name },
      });
    } catch (error) {
      this.failed(served.name, route.version, error);
      recorder.record({
        name: INFERENCE_METRICS.shadowErrors,
        unit: 'Count',
        value: 1,
        dimensions: { model: served.name },
      });
    }
    recorder.record({
      name: INFERENCE_METRICS.shadowLatency,
      unit: 'Milliseconds',
      value: elapsedMs(start),
      dimensions: { model: served.name },
    });
  }

  private failed(model: string, version: number, error: unknown): void {
    const now = this.now();
    const last = this.lastFailureLog.get(model);
    if (last !== undefined && now - last < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLog.set(model, now);
    this.deps.log.warn(
      'shadow scoring failed; answers are not affected (ShadowErrors counts every failure, this is logged once a minute)',
      { model, shadowVersion: version, error: error instanceof Error ? error.message : String(error) },
    );
  }
}
