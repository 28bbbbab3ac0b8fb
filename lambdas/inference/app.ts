import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { shortestFloat32 } from '../../core/float32';
import type { ModelManifest } from '../../core/manifest';
import type { ObjectStore } from '../../core/object-store';
import { type ModelSource, UnknownModelError } from '../../core/registry/types';
import { AfterResponse } from './after-response';
import { BackendError } from './backends/types';
import type { Capture } from './capture';
import { parseFeedback, storeFeedback } from './feedback';
import { type AppLog, INFERENCE_METRICS, type MetricsRecorder } from './metrics';
import { type LoadedModel, type ModelCache, ModelUnavailableError } from './model-cache';
import type { ModelCatalog } from './model-catalog';
import { tryItPage } from './page';
import {
  decodeBody,
  decodeBodyText,
  parseBody,
  parseEnvelope,
  type PredictRequest,
  requestFeatureNames,
  type RequestLimits,
} from './request';
import { createRoutedPredict } from './routed-predict';
import type { RoutingCache } from './routing-cache';
import {
  type ApiError,
  errorResponse,
  htmlResponse,
  internalError,
  jsonResponse,
  listOf,
  methodNotAllowed,
  truncate,
} from './responses';

/**
 * The inference API as a function of API Gateway HTTP API (payload v2) events. Routes:
 *   POST /models/{name}/predict   predict with the model's champion (or canary, per its routing document: routed-predict.ts)
 *   POST /models/{name}/feedback  true labels for earlier answers, by inference id (feedback.ts)
 *   POST /predict                 the model whose features the request names (exactly one), else DEFAULT_MODEL
 *   GET  /models                  every model with its champion's schema
 *   GET  /models/{name}           versions, aliases, metrics, the version this instance serves, canary and shadow in force
 *   GET  /health                  liveness and the loaded models (no registry calls); HEAD too, as for every GET
 *   GET  /                        a page to try the models
 * `handle` never throws: an unexpected error becomes a 500 with a reference to the logged error.
 */

export interface InferenceAppDeps {
  readonly source: ModelSource;
  readonly models: ModelCache;
  readonly catalog: ModelCatalog;
  /** Each model's routing document (canary, shadow). @default - none: the champion serves everything */
  readonly routing?: Pick<RoutingCache, 'get'>;
  readonly limits: RequestLimits;
  readonly defaultModel?: string;
  readonly recorder: MetricsRecorder;
  readonly log: AppLog;
  /** Data capture of answers (capture.ts). @default - nothing is captured and feedback is refused */
  readonly capture?: Capture;
  /** The data bucket, where feedback labels are written (feedback/<model>/ only). */
  readonly feedbackStore?: Pick<ObjectStore, 'put'>;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** The try-it page links here (the CloudWatch dashboard, the local platform's /dashboard). @default - no link */
  readonly dashboardUrl?: string;
}

export interface InferenceApp {
  handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2>;
  /**
   * Resolves once the work deferred past the answers handed back so far (shadow scoring) has
   * finished: what the Lambda handler holds the execution environment for. Never rejects.
   */
  settled(): Promise<void>;
}

type Result = APIGatewayProxyStructuredResultV2;
type RouteHandler = (event: APIGatewayProxyEventV2) => Promise<Result> | Result;

/** A failure to answer with (thrown inside a route, turned into its response by `handle`). */
class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/** The request's Content-Encoding (payload v2 headers arrive lowercased). */
const contentEncodingOf = (event: APIGatewayProxyEventV2): string | undefined => event.headers?.['content-encoding'];

const sameNames = (manifest: ModelManifest, names: ReadonlySet<string>) =>
  manifest.features.length === names.size && manifest.features.every((f) => names.has(f.name));

function describeSchema(manifest: ModelManifest) {
  return {
    algorithm: manifest.algorithm,
    label: manifest.label,
    classes: manifest.classes,
    ...(manifest.classNames ? { classNames: manifest.classNames } : {}),
    features: manifest.features.map((f) => ({
      name: f.name,
      type: f.type,
      ...(f.categories ? { categories: f.categories } : {}),
      // Stored as float32: shown as the decimal it stands for (4.3, not 4.300000190734863).
      ...(f.range ? { range: { min: shortestFloat32(f.range.min), max: shortestFloat32(f.range.max) } } : {}),
    })),
  };
}

function modelError(error: unknown): ApiError | undefined {
  if (error instanceof UnknownModelError) {
    return {
      status: 404,
      code: 'unknown_model',
      message: `unknown model ${JSON.stringify(truncate(error.model))}`,
      expected: 'a model with a champion version; see GET /models',
    };
  }
  if (error instanceof ModelUnavailableError)
    return {
      status: 503,
      code: 'model_unavailable',
      message: `model ${JSON.stringify(error.model)} cannot be served right now; try again shortly`,
    };
  if (error instanceof BackendError)
    return { status: 502, code: 'backend_error', message: 'the model backend failed to answer; try again shortly' };
  return undefined;
}

export function createInferenceApp(deps: InferenceAppDeps): InferenceApp {
  const { limits, log, recorder } = deps;
  const page = tryItPage({ dashboardUrl: deps.dashboardUrl });
  // Deferred tasks catch their own errors (the shadow counts them); this is the net under the net.
  const afterResponse = new AfterResponse((error) =>
    log.error('work after the answer failed', { error: error instanceof Error ? error.message : String(error) }),
  );
  const routedPredict = createRoutedPredict({
    models: deps.models,
    limits,
    recorder,
    log,
    capture: deps.capture,
    afterResponse,
  });
  const clock = deps.clock ?? (() => new Date());
  let coldStart = true;
  /** Per model, the re-check of the alias made for a routing document (by its updatedAt). */
  const rechecks = new Map<string, { readonly updatedAt: string; readonly done: Promise<void> }>();

  const registryUnavailable = (error: unknown): never => {
    log.error('model registry unreachable', { error: error instanceof Error ? error.message : String(error) });
    throw new ApiFailure({
      status: 503,
      code: 'registry_unavailable',
      message: 'the model registry cannot be read right now; try again shortly',
    });
  };

  async function loadModel(name: string): Promise<LoadedModel> {
    try {
      return await deps.models.get(name);
    } catch (error) {
      const mapped = modelError(error);
      if (mapped) throw new ApiFailure(mapped);
      throw error;
    }
  }

  /** POST /predict: the one model whose feature set is exactly the request's, else the default. */
  async function chooseModel(request: PredictRequest): Promise<string> {
    const names = requestFeatureNames(request);
    const fallback = deps.defaultModel;
    const undetermined = (message: string): never => {
      throw new ApiFailure({
        status: 400,
        code: 'model_not_determined',
        message,
        expected: 'feature names that match exactly one model, or POST /models/{name}/predict',
      });
    };
    if (names === undefined)
      return fallback ?? undetermined('values in schema order need a model: use POST /models/{name}/predict');
    const wanted = new Set(names);
    if (fallback !== undefined) {
      const model = await deps.models.get(fallback).catch(() => undefined);
      if (model && sameNames(model.manifest, wanted)) return fallback;
    }
    const catalog = await deps.catalog
      .models()
      .catch((error: unknown) => (fallback === undefined ? registryUnavailable(error) : []));
    const matches = catalog.filter((m) => m.champion && sameNames(m.champion.manifest, wanted)).map((m) => m.name);
    if (matches.length === 1) return matches[0];
    if (fallback !== undefined) return fallback;
    return matches.length === 0
      ? undetermined(`no model takes exactly the features ${listOf(names, 10)}`)
      : undetermined(`several models take these features (${listOf(matches, 10)}); name one`);
  }

  async function predict(event: APIGatewayProxyEventV2, modelName: string | undefined): Promise<Result> {
    const text = decodeBodyText(
      event.body,
      event.isBase64Encoded === true,
      limits.maxBodyBytes,
      contentEncodingOf(event),
    );
    if (!text.ok) return errorResponse(text.error);
    const body = parseBody(text.value);
    if (!body.ok) return errorResponse(body.error);
    const request = parseEnvelope(body.value, limits.maxBatch);
    if (!request.ok) return errorResponse(request.error);
    let champion = await loadModel(modelName ?? (await chooseModel(request.value)));
    // After the champion, so a name with no model never costs a routing read (or a cache entry).
    const routing = await deps.routing?.get(champion.name);
    if (routing?.champion != null && routing.champion !== champion.version) {
      // The document was written over another champion (a canary just promoted, whose document is
      // re-read before the alias): check the alias now, once per document (concurrent requests
      // share it), so the canary's callers do not fall back to the old champion for a TTL.
      const name = champion.name;
      let recheck = rechecks.get(name);
      if (recheck?.updatedAt !== routing.updatedAt) {
        recheck = {
          updatedAt: routing.updatedAt,
          done: deps.models.recheck(name).then(
            () => undefined,
            () => undefined,
          ),
        };
        rechecks.set(name, recheck);
      }
      await recheck.done;
      champion = await loadModel(name);
    }
    return routedPredict({ event, request: request.value, requestText: text.value, champion, routing });
  }

  /** POST /models/{name}/feedback: labels checked against the champion's classes, then stored. */
  async function feedback(event: APIGatewayProxyEventV2, name: string): Promise<Result> {
    const body = decodeBody(event.body, event.isBase64Encoded === true, limits.maxBodyBytes, contentEncodingOf(event));
    if (!body.ok) return errorResponse(body.error);
    const champion = await loadModel(name);
    const { capture, feedbackStore } = deps;
    if (!capture || !feedbackStore) {
      return errorResponse({
        status: 503,
        code: 'feedback_unavailable',
        message: 'this deployment does not accept feedback (no data capture or data bucket is configured)',
      });
    }
    const now = clock();
    const records = parseFeedback(body.value, {
      model: champion.name,
      classes: champion.manifest.classes,
      capture: capture.settingsFor(champion.name),
      maxItems: limits.maxBatch,
      now,
    });
    if (!records.ok) return errorResponse(records.error);
    try {
      await storeFeedback(feedbackStore, champion.name, records.value, now);
    } catch (error) {
      log.error('feedback could not be stored', {
        model: champion.name,
        error: error instanceof Error ? error.message : String(error),
      });
      return errorResponse({
        status: 503,
        code: 'feedback_unavailable',
        message: 'the feedback could not be stored right now; nothing was kept, send it again shortly',
      });
    }
    recorder.record({
      name: INFERENCE_METRICS.feedbackLabels,
      unit: 'Count',
      value: records.value.length,
      dimensions: { model: champion.name },
    });
    return jsonResponse(200, { model: champion.name, accepted: records.value.length });
  }

  async function listModels(): Promise<Result> {
    const catalog = await deps.catalog.models().catch(registryUnavailable);
    const models = catalog.map((m) =>
      m.champion
        ? {
            name: m.name,
            version: m.champion.version,
            ...describeSchema(m.champion.manifest),
            metrics: m.champion.manifest.metrics.holdout,
          }
        : { name: m.name, version: null },
    );
    return jsonResponse(200, { defaultModel: deps.defaultModel ?? null, models });
  }

  async function describeModel(name: string): Promise<Result> {
    const versions = await deps.source.listVersions(name).catch((error: unknown) => {
      if (error instanceof UnknownModelError) throw new ApiFailure(modelError(error) as ApiError);
      return registryUnavailable(error);
    });
    const aliases: Record<string, number> = {};
    for (const v of versions) for (const alias of v.aliases) aliases[alias] = v.version;
    const championVersion = aliases.champion;
    const champion =
      championVersion === undefined
        ? undefined
        : await deps.source.getManifest(name, championVersion).catch(registryUnavailable);
    const serving = deps.models.loaded().find((m) => m.name === name);
    // What this instance routes by (its cached copy: the same TTL as the champion).
    const document = await deps.routing?.get(name);
    const routing = {
      canary: document?.canary
        ? {
            version: document.canary.version,
            weight: document.canary.weight,
            rolloutId: document.canary.rolloutId,
            step: document.canary.step ?? null,
            steps: document.canary.plan?.steps ?? null,
            startedAt: document.canary.startedAt,
          }
        : null,
      shadow: document?.shadow
        ? { version: document.shadow.version, sample: document.shadow.sample, startedAt: document.shadow.startedAt }
        : null,
    };
    return jsonResponse(200, {
      name,
      aliases,
      // The baseline is what drift is measured against (core/monitoring); null for versions trained before baselines.
      champion: champion
        ? {
            version: championVersion,
            ...describeSchema(champion),
            metrics: champion.metrics,
            baseline: champion.baseline ?? null,
          }
        : null,
      capture: deps.capture ? deps.capture.settingsFor(name) : { enabled: false },
      serving: serving
        ? { version: serving.version, origin: serving.origin, backend: serving.backend, loadedAt: serving.loadedAt }
        : null,
      routing,
      versions: versions.map(({ version, algorithm, createdAt, sha256, metrics, aliases: on }) => ({
        version,
        algorithm,
        createdAt,
        sha256,
        metrics,
        aliases: on,
      })),
    });
  }

  function health(): Result {
    const models = deps.models
      .loaded()
      .map((m) => ({ name: m.name, version: m.version, origin: m.origin, backend: m.backend, loadedAt: m.loadedAt }));
    return jsonResponse(200, { status: 'ok', defaultModel: deps.defaultModel ?? null, models });
  }

  /** The route for a path: its handlers by method, or undefined (404). */
  function route(segments: readonly string[]): Readonly<Partial<Record<string, RouteHandler>>> | undefined {
    const [first, name, third] = segments;
    if (segments.length === 0) return { GET: () => htmlResponse(page.html, page.headers) };
    if (segments.length === 1 && first === 'health') return { GET: health };
    if (segments.length === 1 && first === 'predict') return { POST: (e) => predict(e, undefined) };
    if (segments.length === 1 && first === 'models') return { GET: listModels };
    if (segments.length === 2 && first === 'models') return { GET: () => describeModel(name) };
    if (segments.length === 3 && first === 'models' && third === 'predict') return { POST: (e) => predict(e, name) };
    if (segments.length === 3 && first === 'models' && third === 'feedback') return { POST: (e) => feedback(e, name) };
    return undefined;
  }

  async function dispatch(event: APIGatewayProxyEventV2): Promise<Result> {
    const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
    const path = event.rawPath ?? event.requestContext?.http?.path ?? '/';
    let segments: string[];
    try {
      segments = path
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      segments = ['\0'];
    }
    const handlers = route(segments);
    if (!handlers)
      return errorResponse({
        status: 404,
        code: 'not_found',
        message: `no route for ${truncate(path)}`,
        expected:
          'one of GET /, GET /health, GET /models, GET /models/{name}, POST /models/{name}/predict, POST /models/{name}/feedback, POST /predict',
      });
    // HEAD is GET without the body (uptime checks, curl -I), wherever GET is served.
    const get = handlers.GET;
    if (method === 'HEAD' && get) return { ...(await get(event)), body: undefined };
    const handler = handlers[method];
    if (!handler) return methodNotAllowed(method, get ? [...Object.keys(handlers), 'HEAD'] : Object.keys(handlers));
    return handler(event);
  }

  return {
    async handle(event) {
      if (coldStart) {
        coldStart = false;
        recorder.record({ name: INFERENCE_METRICS.coldStarts, unit: 'Count', value: 1, dimensions: {} });
      }
      try {
        return await dispatch(event);
      } catch (error) {
        if (error instanceof ApiFailure) return errorResponse(error.error);
        const mapped = modelError(error);
        if (mapped) return errorResponse(mapped);
        const errorId = randomUUID();
        log.error('unhandled error', {
          errorId,
          error:
            error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
        });
        return internalError(errorId);
      }
    },
    settled: () => afterResponse.settled(),
  };
}
