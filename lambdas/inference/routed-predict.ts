import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ModelManifest } from '../../core/manifest';
import { INFERENCE_ID_HEADER, instanceId, newInferenceId } from '../../core/monitoring/inference-id';
import { assignVariant, inShadowSample, type RoutingDocument, type Variant } from '../../core/registry/routing';
import { batchSize, rowsOf } from '../../core/features';
import { BackendError, type Prediction, toPredictions } from './backends/types';
import { callerKeyOf, requestIdOf } from './caller';
import type { AfterResponse } from './after-response';
import type { Capture } from './capture';
import { recordTogether } from '../shared/metrics';
import { type AppLog, elapsedMs, INFERENCE_METRICS, type MetricRecord, type MetricsRecorder } from './metrics';
import type { LoadedModel, ModelCache } from './model-cache';
import { instanceValidator, type InstanceValidator, type PredictRequest, type RequestLimits } from './request';
import { type ApiError, errorResponse, jsonResponse } from './responses';
import { ShadowScorer } from './shadow';

/**
 * A predict request once its model is known: which version answers (the champion, or the canary
 * for callers the routing document's canary weight assigns to it), validation against that
 * version's manifest, the prediction, the answer, and then the shadow, if the request is in its
 * sample, deferred past the answer (after-response.ts). Every answer from here on says who answered, in the headers `x-model-version` and
 * `x-model-variant`, and is counted per variant (VariantRequests, VariantLatency, and
 * VariantClientErrors / VariantServerErrors / VariantPredictions): what a rollout is judged on.
 */

const MODEL_VERSION_HEADER = 'x-model-version';
const MODEL_VARIANT_HEADER = 'x-model-variant';

export interface RoutedPredictDeps {
  readonly models: Pick<ModelCache, 'version'>;
  readonly limits: RequestLimits;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** Data capture of answered requests. @default - nothing is captured */
  readonly capture?: Pick<Capture, 'record'>;
  /** Where the shadow's scoring goes: after the answer is handed back. */
  readonly afterResponse: Pick<AfterResponse, 'defer'>;
}

export interface RoutedRequest {
  readonly event: APIGatewayProxyEventV2;
  readonly request: PredictRequest;
  /** The body's text as sent (data capture keeps it). */
  readonly requestText: string;
  readonly champion: LoadedModel;
  /** The model's routing document in force; undefined: the champion serves everything. */
  readonly routing: RoutingDocument | undefined;
}

type Result = APIGatewayProxyStructuredResultV2;

const BACKEND_ERROR: ApiError = {
  status: 502,
  code: 'backend_error',
  message: 'the model backend failed to answer; try again shortly',
};

export function createRoutedPredict(deps: RoutedPredictDeps): (routed: RoutedRequest) => Promise<Result> {
  const { limits, log, recorder } = deps;
  const validators = new WeakMap<ModelManifest, InstanceValidator>();
  const shadows = new ShadowScorer(deps);

  const validatorFor = (manifest: ModelManifest): InstanceValidator => {
    let validate = validators.get(manifest);
    if (!validate) {
      validate = instanceValidator(manifest.features, limits);
      validators.set(manifest, validate);
    }
    return validate;
  };

  /** The canary for the callers its weight assigns to it; the champion when it cannot load (ModelLoadFailures says so). */
  async function answering({
    event,
    champion,
    routing,
  }: RoutedRequest): Promise<{ served: LoadedModel; variant: Variant }> {
    const canary = routing?.canary;
    if (!canary || assignVariant(canary, callerKeyOf(event)) !== 'canary')
      return { served: champion, variant: 'champion' };
    try {
      return { served: await deps.models.version(champion.name, canary.version), variant: 'canary' };
    } catch {
      return { served: champion, variant: 'champion' };
    }
  }

  /** VariantRequests and VariantLatency for every answer; the 4xx or 5xx count for a refusal. */
  function counted(answer: Result, served: LoadedModel, variant: Variant, start: number): Result {
    const status = answer.statusCode ?? 200;
    const dimensions = { model: served.name, variant };
    const metrics: MetricRecord[] = [
      { name: INFERENCE_METRICS.variantRequests, unit: 'Count', value: 1, dimensions },
      { name: INFERENCE_METRICS.variantLatency, unit: 'Milliseconds', value: elapsedMs(start), dimensions },
    ];
    if (status >= 500)
      metrics.push({ name: INFERENCE_METRICS.variantServerErrors, unit: 'Count', value: 1, dimensions });
    else if (status >= 400)
      metrics.push({ name: INFERENCE_METRICS.variantClientErrors, unit: 'Count', value: 1, dimensions });
    recordTogether(recorder, metrics);
    return answer;
  }

  return async (routed) => {
    const { request } = routed;
    const { served, variant } = await answering(routed);
    // From here: a canary's first request on an instance loads it (ModelLoadTime says how long),
    // which must not count as the canary answering slowly in the rollout gate's p99.
    const start = performance.now();
    const headers = { [MODEL_VERSION_HEADER]: String(served.version), [MODEL_VARIANT_HEADER]: variant };
    const rows = validatorFor(served.manifest)(request);
    if (!rows.ok) return counted(errorResponse(rows.error, headers), served, variant, start);

    const backendStart = performance.now();
    // A columnar answer reads one flat array when the backend gives one; rows need an array per instance.
    let flat: ArrayLike<number> | undefined;
    let rowScores: number[][] | undefined;
    try {
      if (request.form === 'columns' && served.predictor.predictFlat)
        flat = await served.predictor.predictFlat(rows.value);
      else rowScores = await served.predictor.predict(rows.value);
    } catch (error) {
      const errorId = randomUUID();
      log.error('the model backend failed on a valid request', {
        errorId,
        model: served.name,
        version: served.version,
        variant,
        error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      });
      const failure: ApiError =
        error instanceof BackendError
          ? BACKEND_ERROR
          : {
              status: 500,
              code: 'internal_error',
              message: `internal error; quote reference ${errorId} when reporting it`,
            };
      return counted(errorResponse(failure, headers), served, variant, start);
    }
    const inferenceMs = elapsedMs(backendStart);
    const requestId = newInferenceId(served.name);
    const classes = served.manifest.classes;
    const count = batchSize(rows.value);
    const probabilities = (): number[][] =>
      (rowScores ??= Array.from({ length: count }, (_, i) =>
        Array.from({ length: classes.length }, (_, c) => (flat as ArrayLike<number>)[i * classes.length + c]),
      ));
    let body: unknown;
    let perClass: Map<string, number>;
    // Rows and per-instance predictions, built only if something needs them (capture of a columnar request).
    let predictions: () => readonly Prediction[];
    if (request.form === 'columns') {
      const answer = columnarAnswer(classes, flat ?? flatten(probabilities(), classes.length), count);
      perClass = answer.perClass;
      body = {
        model: served.name,
        version: served.version,
        inferenceId: requestId,
        count,
        labels: answer.labels,
        probabilities: answer.probabilities,
      };
      let built: readonly Prediction[] | undefined;
      predictions = () => (built ??= toPredictions(classes, probabilities()));
    } else {
      const rowPredictions = toPredictions(classes, probabilities()).map((p, i, all) => ({
        inferenceId: instanceId(requestId, i, all.length),
        ...p,
      }));
      perClass = new Map<string, number>();
      for (const p of rowPredictions) perClass.set(p.label, (perClass.get(p.label) ?? 0) + 1);
      body = { model: served.name, version: served.version, inferenceId: requestId, predictions: rowPredictions };
      predictions = () => rowPredictions;
    }
    for (const [label, count] of perClass) {
      recorder.record({
        name: INFERENCE_METRICS.predictions,
        unit: 'Count',
        value: count,
        dimensions: { model: served.name, version: String(served.version), class: label || '(empty)' },
      });
      recorder.record({
        name: INFERENCE_METRICS.variantPredictions,
        unit: 'Count',
        value: count,
        dimensions: { model: served.name, variant, class: label || '(empty)' },
      });
    }
    // The answer is final before the shadow runs (after it is handed back): the shadow only reads the rows and these probabilities.
    const answer = counted(
      jsonResponse(200, body, { ...headers, [INFERENCE_ID_HEADER]: requestId }),
      served,
      variant,
      start,
    );
    const batch = rows.value;
    let rowList: ReturnType<typeof rowsOf> | undefined;
    const captured =
      deps.capture?.record({
        requestId,
        requestText: routed.requestText,
        answerText: answer.body ?? '',
        manifest: served.manifest,
        model: served.name,
        version: served.version,
        variant,
        // Getters: a columnar batch becomes rows only when capture writes one record per instance.
        get rows() {
          return (rowList ??= rowsOf(batch));
        },
        get predictions() {
          return predictions();
        },
        count: batchSize(batch),
        latencyMs: elapsedMs(start),
        time: new Date(),
      }) ?? 0;
    // Per-model metrics in one entry (each EMF line costs tens of microseconds).
    const dimensions = { model: served.name };
    recordTogether(recorder, [
      { name: INFERENCE_METRICS.inferenceLatency, unit: 'Milliseconds', value: inferenceMs, dimensions },
      { name: INFERENCE_METRICS.modelVersionInService, unit: 'None', value: served.version, dimensions },
      ...(captured > 0
        ? [{ name: INFERENCE_METRICS.capturedInstances, unit: 'Count' as const, value: captured, dimensions }]
        : []),
    ]);
    const shadow = routed.routing?.shadow;
    if (shadow && inShadowSample(shadow, requestIdOf(routed.event)))
      deps.afterResponse.defer(() =>
        shadows.score({ route: shadow, served, rows: batch, probabilities: probabilities() }),
      );
    return answer;
  };
}

/** Probabilities are reported to 6 decimals: float32 carries about 7 significant digits. */
const round6 = (p: number) => Math.round(p * 1e6) / 1e6;

/** Row-major: instance i, class c at i * classes + c. */
function flatten(rows: readonly (readonly number[])[], classes: number): Float64Array {
  const flat = new Float64Array(rows.length * classes);
  for (let i = 0; i < rows.length; i++) for (let c = 0; c < classes; c++) flat[i * classes + c] = rows[i][c];
  return flat;
}

/**
 * The answer to a columnar request, as columns too: `labels[i]` and `probabilities[class][i]` for
 * instance i (the label is the class with the highest probability, first on ties, as toPredictions).
 * `scores` is row-major: instance i, class c at i * classes.length + c.
 */
export function columnarAnswer(
  classes: readonly string[],
  scores: ArrayLike<number>,
  count: number,
): { labels: string[]; probabilities: Record<string, number[]>; perClass: Map<string, number> } {
  const k = classes.length;
  const labels = new Array<string>(count);
  const columns: number[][] = Array.from({ length: k }, () => new Array<number>(count));
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < count; i++) {
    const base = i * k;
    let best = 0;
    for (let c = 0; c < k; c++) {
      const p = scores[base + c];
      if (p > scores[base + best]) best = c;
      columns[c][i] = round6(p);
    }
    labels[i] = classes[best];
    counts[best]++;
  }
  // A null-prototype object: a class named "__proto__" is just a key.
  const byClass: Record<string, number[]> = Object.create(null) as Record<string, number[]>;
  const perClass = new Map<string, number>();
  for (let c = 0; c < k; c++) {
    byClass[classes[c]] = columns[c];
    if (counts[c] > 0) perClass.set(classes[c], counts[c]);
  }
  return { labels, probabilities: byClass, perClass };
}
