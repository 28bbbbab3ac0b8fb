import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import { S3ObjectStore } from '../../core/s3-object-store';
import { createInferenceApp, type InferenceApp } from './app';
import { OnnxBackend } from './backends/onnx';
import { SageMakerBackend } from './backends/sagemaker';
import type { ModelBackend } from './backends/types';
import { type InferenceConfig, loadConfig } from './config';
import { type AppLog, METRICS_SERVICE, type MetricListener, powertoolsLog, powertoolsRecorder } from './metrics';
import { ModelCache, ModelCatalog } from './model-cache';
import { internalError } from './responses';

/**
 * The inference Lambda's entry point: wiring only. Configuration, SDK clients, the registry
 * reader, logger and metrics recorder are created once per execution environment (module
 * scope); a misconfigured function fails at init, naming every bad variable.
 */

export interface BuildOptions {
  /** Sees every metric as it is recorded (the local platform, tests). */
  readonly metricListener?: MetricListener;
  /** @default - a Powertools Logger (POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME) */
  readonly log?: AppLog;
}

/** The app over the real registry in S3, as the Lambda runs it (also used by tests and the local platform). */
export function buildInferenceApp(config: InferenceConfig, options: BuildOptions = {}): InferenceApp {
  const log = options.log ?? powertoolsLog(new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE }));
  const s3 = new S3Client(config.awsEndpointUrl === undefined ? {} : { endpoint: config.awsEndpointUrl, forcePathStyle: true });
  // The function only reads the registry; the validator is what ModelRegistry needs to register.
  const source = new ModelRegistry(new S3ObjectStore(s3, config.modelBucket), new OnnxModelValidator());
  const recorder = powertoolsRecorder({ listener: options.metricListener });

  const onnx = new OnnxBackend();
  const endpoints = Object.entries(config.sagemakerEndpoints);
  const sagemaker = endpoints.length === 0 ? undefined : new SageMakerRuntimeClient({});
  const remote = new Map<string, ModelBackend>(sagemaker ? endpoints.map(([model, endpoint]) => [model, new SageMakerBackend(sagemaker, endpoint)]) : []);
  const backendFor = (model: string): ModelBackend => remote.get(model) ?? onnx;

  const models = new ModelCache({ source, backendFor, ttlMs: config.modelTtlMs, bundledModelsDir: config.bundledModelsDir, recorder, log });
  const catalog = new ModelCatalog(source, config.modelTtlMs);
  return createInferenceApp({
    source,
    models,
    catalog,
    limits: { maxBatch: config.maxBatch, maxBodyBytes: config.maxBodyBytes, maxTextChars: config.maxTextChars },
    defaultModel: config.defaultModel,
    recorder,
    log,
  });
}

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE });
const app = buildInferenceApp(loadConfig(process.env), { log: powertoolsLog(logger) });

export const handler = async (event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    if (context) logger.addContext(context);
    return await app.handle(event);
  } catch (error) {
    // app.handle answers every error itself; this is the net under the net. Never throw to Lambda.
    const errorId = randomUUID();
    logger.error('unhandled error in handler', { errorId, error: error instanceof Error ? error.message : String(error) });
    return internalError(errorId);
  }
};
