import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import { createInferenceApp, type InferenceApp } from './app';
import { OnnxBackend } from './backends/onnx';
import type { ModelBackend } from './backends/types';
import { Capture, type CaptureSink, stdoutCaptureSink } from './capture';
import type { InferenceConfig } from './config';
import { type AppLog, METRICS_SERVICE, type MetricListener, powertoolsLog, powertoolsRecorder } from './metrics';
import { ModelCache } from './model-cache';
import { ModelCatalog } from './model-catalog';
import { RoutingCache, routingObjectSource } from './routing-cache';

/**
 * Builds the inference app from its configuration: SDK clients, the registry reader, backends,
 * model cache and metrics. The Lambda handler calls it once per execution environment; the local
 * platform, tests and benchmarks call it the same way (importing handler.ts would read the env).
 */

export interface BuildOptions {
  /** Sees every metric as it is recorded (the local platform, tests). */
  readonly metricListener?: MetricListener;
  /** @default - a Powertools Logger (POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME) */
  readonly log?: AppLog;
  /** Where captured records go. @default stdout (the Lambda's log, which the capture subscription reads) */
  readonly captureSink?: CaptureSink;
  /**
   * The S3 client that reads the model bucket (the local platform passes its own, with the local
   * server's endpoint and keys, so nothing is read from process.env).
   * @default - a client for config.awsEndpointUrl (or AWS), credentials and region from the environment
   */
  readonly s3?: S3Client;
  /**
   * Whether metrics are written as EMF lines to stdout (the metric listener sees them either way).
   * @default - yes, unless POWERTOOLS_METRICS_DISABLED is "true"
   */
  readonly emitMetrics?: boolean;
}

/** The app over the real registry in S3, as the Lambda runs it (also used by tests and the local platform). */
export function buildInferenceApp(config: InferenceConfig, options: BuildOptions = {}): InferenceApp {
  const log =
    options.log ?? powertoolsLog(new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE }));
  const s3 =
    options.s3 ??
    new S3Client(config.awsEndpointUrl === undefined ? {} : { endpoint: config.awsEndpointUrl, forcePathStyle: true });
  // The function only reads the registry; the validator is what ModelRegistry needs to register.
  const store = new S3ObjectStore(s3, config.modelBucket);
  const source = new ModelRegistry(store, new OnnxModelValidator());
  const recorder = powertoolsRecorder({
    listener: options.metricListener,
    ...(options.emitMetrics === undefined ? {} : { emit: options.emitMetrics }),
  });

  const onnx = new OnnxBackend();
  const endpoints = Object.entries(config.sagemakerEndpoints);
  const remote = new Map<string, ModelBackend>(
    endpoints.map(([model, endpoint]) => [model, lazySageMakerBackend(endpoint)]),
  );
  const backendFor = (model: string): ModelBackend => remote.get(model) ?? onnx;

  const models = new ModelCache({
    source,
    backendFor,
    ttlMs: config.modelTtlMs,
    bundledModelsDir: config.bundledModelsDir,
    recorder,
    log,
  });
  const catalog = new ModelCatalog(source, config.modelTtlMs);
  // Versions a routing document stops naming are let go (the champion's stays, and the one the
  // document was written over: a canary just promoted is the next champion, not loaded twice).
  const routing = new RoutingCache({
    source: routingObjectSource(store),
    ttlMs: config.modelTtlMs,
    recorder,
    log,
    onChange: (model, document) =>
      models.retainVersions(
        model,
        [document?.canary?.version, document?.shadow?.version, document?.champion ?? undefined].filter(
          (v) => v !== undefined,
        ),
      ),
  });
  const capture = new Capture({
    settings: config.captureSettings,
    sink: options.captureSink ?? stdoutCaptureSink,
    recorder,
    log,
  });
  const feedbackStore = config.dataBucket === undefined ? undefined : new S3ObjectStore(s3, config.dataBucket);
  return createInferenceApp({
    source,
    models,
    catalog,
    routing,
    limits: { maxBatch: config.maxBatch, maxBodyBytes: config.maxBodyBytes, maxTextChars: config.maxTextChars },
    defaultModel: config.defaultModel,
    recorder,
    log,
    capture,
    feedbackStore,
    dashboardUrl: config.dashboardUrl,
  });
}

/** One SageMaker runtime client for every endpoint, created with the first. */
let sagemakerClient: Promise<SageMakerRuntimeClient> | undefined;

/**
 * A SageMaker backend whose SDK client (and the backend module) is loaded when a model first
 * opens on it, not at init: most functions have no endpoint configured, and the client's import
 * is a cold-start cost the first answer of an onnxruntime model does not need.
 */
function lazySageMakerBackend(endpointName: string): ModelBackend {
  let backend: Promise<ModelBackend> | undefined;
  const load = async (): Promise<ModelBackend> => {
    sagemakerClient ??= import('@aws-sdk/client-sagemaker-runtime').then((m) => new m.SageMakerRuntimeClient({}));
    const [client, { SageMakerBackend }] = await Promise.all([sagemakerClient, import('./backends/sagemaker')]);
    return new SageMakerBackend(client, endpointName);
  };
  return {
    kind: 'sagemaker',
    needsModelBytes: false,
    open: async (artifact) => (await (backend ??= load())).open(artifact),
  };
}
