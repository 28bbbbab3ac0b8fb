import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv1 from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  CORS_EXPOSE_HEADERS,
  CORS_MAX_AGE_SECONDS,
  corsProblems,
  type CorsSettings,
} from '../../core/cors';
import type { MonitoringSettings } from '../../core/monitoring/contract';
import { InferenceCapture } from './inference-capture';
import { InferenceFunction } from './inference-function';
import { nameProblem } from '../../core/registry/keys';
import { grantList, grantObjects } from './least-privilege';
import { FEEDBACK_PREFIX, REGISTRY_PREFIX } from '../../core/contracts/buckets';
import { METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';

export interface InferenceThrottling {
  /** Steady-state requests per second for the whole API. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the steady rate. */
  readonly burstLimit: number;
}

/** Optional JWT authorization (any OIDC issuer: Cognito, Auth0, Okta, ...). */
export interface InferenceAuth {
  /** The token issuer URL (the `iss` claim), https. */
  readonly issuer: string;
  /** Accepted audiences (the `aud` claim, or `client_id` for Cognito access tokens). */
  readonly audience: readonly string[];
}

/** A model's data capture (its spec's monitoring.capture, defaults applied). */
export type CaptureSettings = MonitoringSettings['capture'];

/**
 * What models without an entry of their own get (the `"*"` entry): no capture. The data bucket
 * expires captures per spec'd model only (lib/constructs/capture-retention.ts), so a model served
 * without a spec (registered by hand) would have its captures kept forever.
 */
const UNLISTED_MODEL_CAPTURE: CaptureSettings = { enabled: false, sampleRate: 0, retentionDays: 1 };

export interface InferenceApiProps {
  /** The model registry bucket; the function reads registry/* and nothing else. */
  readonly modelBucket: s3.IBucket;
  /**
   * The data bucket: the function writes feedback labels under feedback/ (and nothing else
   * there), and the capture path (InferenceCapture: log subscription -> Firehose) writes captured
   * requests under capture/.
   * @default - no capture path and no feedback: the function gets no DATA_BUCKET
   */
  readonly dataBucket?: s3.IBucket;
  /**
   * Data capture per model, by model name (CAPTURE_SETTINGS); other models are not captured
   * (UNLISTED_MODEL_CAPTURE). Needs `dataBucket`.
   * @default - no model is listed: nothing is captured
   */
  readonly capture?: Readonly<Record<string, CaptureSettings>>;
  /**
   * How long the capture stream buffers before writing an object (60..900 s).
   * @default DEFAULT_CAPTURE_BUFFERING (300 s, justified in lib/constructs/inference-capture.ts)
   */
  readonly captureBufferingInterval?: Duration;
  /**
   * The model `POST /predict` serves when a request does not name one.
   * @default - none: requests must name their model
   */
  readonly defaultModel?: string;
  /**
   * Where the try-it page (GET /) links to the dashboard (DASHBOARD_URL). The platform dashboard
   * lives in the monitoring stack, which depends on this one, so its name cannot come back here.
   * @default - the CloudWatch dashboards list of this stack's region
   */
  readonly dashboardUrl?: string;
  /**
   * How long a resolved `champion` is trusted before a cheap conditional re-check: the
   * longest a newly promoted version waits to be served. Whole seconds, at most 1 hour.
   * @default Duration.seconds(60)
   */
  readonly modelTtl?: Duration;
  /**
   * Most instances accepted in one request (1..10000).
   * @default 1000
   */
  readonly maxBatch?: number;
  /**
   * Function memory in MB (128..10240).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * @default lambda.Architecture.X86_64 (see InferenceFunctionProps.architecture)
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Throttling of the default stage, so a runaway client cannot run up the bill.
   * @default - { rateLimit: 100, burstLimit: 200 }
   */
  readonly throttling?: InferenceThrottling;
  /**
   * Models served by a SageMaker endpoint instead of in Lambda: model name -> endpoint name.
   * The function may invoke exactly these endpoints.
   * @default - none: every model runs in Lambda
   */
  readonly sagemakerEndpoints?: Record<string, string>;
  /**
   * Require a JWT on every route but `GET /health` (kept open for uptime checks).
   * @default - no authorization: anyone with the URL can predict (throttled)
   */
  readonly auth?: InferenceAuth;
  /**
   * Let pages on these origins call the API from a browser (API Gateway answers preflights and
   * adds the CORS headers; core/cors.ts lists the methods and headers).
   * @default - off: no CORS headers, browsers on other origins are refused
   */
  readonly cors?: CorsSettings;
  /**
   * How long the function's logs and the API's access logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A local folder of <model>/{model.onnx,manifest.json} bundled with the function: the
   * last-resort fallback when the registry cannot be read at cold start.
   * @default - no bundled models
   */
  readonly bundledModelsDir?: string;
  /**
   * The handler source file; for tests and alternative handlers.
   * @default - lambdas/inference/handler.ts
   */
  readonly entry?: string;
}

/** The props with defaults applied, after validation. */
export interface InferenceSettings {
  readonly modelTtlSeconds: number;
  readonly maxBatch: number;
  readonly memorySize: number;
  readonly throttling: InferenceThrottling;
  readonly sagemakerEndpoints: Readonly<Record<string, string>>;
  /** Every listed model's capture, plus the `"*"` entry; sorted by name. */
  readonly capture: Readonly<Record<string, CaptureSettings>>;
}

const INFERENCE_DEFAULTS = {
  modelTtlSeconds: 60,
  maxBatch: 1000,
  memorySize: 1024,
  throttling: { rateLimit: 100, burstLimit: 200 },
} as const;

/** One JSON object per request in the access log (HTTP API $context variables). */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  time: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
} as const;

/** SageMaker's rule for endpoint names. */
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

function wholeNumberIn(name: string, value: number, min: number, max: number, unit = ''): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number${unit} from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** The registry's own rule, so a name that synthesises is a name the function accepts. */
function modelName(what: string, name: string): string {
  const problem = nameProblem('model', name);
  if (problem) throw new Error(`${what}: ${problem}`);
  return name;
}

/** Validates the props before anything is built; errors say what was received and what fits. */
export function inferenceSettings(props: InferenceApiProps): InferenceSettings {
  if (props.defaultModel !== undefined) modelName('defaultModel', props.defaultModel);
  const ttl = props.modelTtl?.toMilliseconds() ?? INFERENCE_DEFAULTS.modelTtlSeconds * 1000;
  if (!Number.isInteger(ttl / 1000) || ttl < 0 || ttl > 3_600_000) {
    throw new Error(`modelTtl must be whole seconds from 0 to 3600, got ${ttl / 1000} s`);
  }
  const throttling = props.throttling ?? INFERENCE_DEFAULTS.throttling;
  if (!(throttling.rateLimit > 0) || !Number.isFinite(throttling.rateLimit)) {
    throw new Error(`throttling.rateLimit must be a number of requests per second > 0, got ${throttling.rateLimit}`);
  }
  wholeNumberIn('throttling.burstLimit', throttling.burstLimit, 1, 5000, ' of requests');
  const sagemakerEndpoints = props.sagemakerEndpoints ?? {};
  for (const [model, endpoint] of Object.entries(sagemakerEndpoints)) {
    modelName('a sagemakerEndpoints key', model);
    if (!ENDPOINT_NAME.test(endpoint)) {
      throw new Error(
        `sagemakerEndpoints["${model}"] must be a SageMaker endpoint name (letters, digits, hyphens; at most 63), got "${endpoint}"`,
      );
    }
  }
  if (props.auth) {
    if (!/^https:\/\/[^\s/]+/.test(props.auth.issuer))
      throw new Error(`auth.issuer must be the token issuer's https URL, got "${props.auth.issuer}"`);
    if (props.auth.audience.length === 0 || props.auth.audience.some((a) => a.trim() === '')) {
      throw new Error(
        `auth.audience must list at least one non-empty audience (client id), got ${JSON.stringify(props.auth.audience)}`,
      );
    }
  }
  const corsIssues = props.cors ? corsProblems(props.cors) : [];
  if (corsIssues.length > 0) throw new Error(`cors.${corsIssues.join('; cors.')}`);
  const capture = props.capture ?? {};
  if (Object.keys(capture).length > 0 && props.dataBucket === undefined) {
    throw new Error(
      `capture lists ${Object.keys(capture).join(', ')} but no dataBucket was given: captured requests and feedback are written to the data bucket`,
    );
  }
  for (const [model, settings] of Object.entries(capture)) {
    modelName('a capture key', model);
    if (!(settings.sampleRate >= 0 && settings.sampleRate <= 1))
      throw new Error(
        `capture["${model}"].sampleRate must be a share of requests from 0 to 1, got ${settings.sampleRate}`,
      );
    if (!Number.isInteger(settings.retentionDays) || settings.retentionDays < 1)
      throw new Error(
        `capture["${model}"].retentionDays must be a whole number of days >= 1, got ${settings.retentionDays}`,
      );
  }
  return {
    modelTtlSeconds: ttl / 1000,
    maxBatch: wholeNumberIn('maxBatch', props.maxBatch ?? INFERENCE_DEFAULTS.maxBatch, 1, 10_000),
    memorySize: wholeNumberIn('memorySize', props.memorySize ?? INFERENCE_DEFAULTS.memorySize, 128, 10_240, ' of MB'),
    throttling,
    sagemakerEndpoints,
    capture: Object.fromEntries([
      ...Object.keys(capture)
        .sort()
        .map((m) => [m, capture[m]] as const),
      ['*', UNLISTED_MODEL_CAPTURE] as const,
    ]),
  };
}

/**
 * The public inference API: an HTTP API whose every route goes to one inference Lambda, which
 * serves each model's `champion` from the registry bucket (read-only) and optionally forwards
 * some models to SageMaker endpoints. With a data bucket, it also captures answered requests
 * (InferenceCapture) and accepts feedback labels (written under feedback/).
 */
export class InferenceApi extends Construct {
  readonly api: apigw.HttpApi;
  /** The `$default` stage, throttled and access-logged. */
  readonly stage: apigw.HttpStage;
  readonly fn: InferenceFunction;
  /** The capture path (log subscription -> Firehose -> capture/); undefined without a data bucket. */
  readonly capture?: InferenceCapture;
  /** The API's base URL (ends with `/`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    const settings = inferenceSettings(props);

    this.fn = new InferenceFunction(this, 'Function', {
      entry: props.entry,
      architecture: props.architecture,
      memorySize: settings.memorySize,
      bundledModelsDir: props.bundledModelsDir,
      logRetention: props.logRetention,
      environment: {
        MODEL_BUCKET: props.modelBucket.bucketName,
        ...(props.defaultModel ? { DEFAULT_MODEL: props.defaultModel } : {}),
        DASHBOARD_URL:
          props.dashboardUrl ??
          `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:`,
        MODEL_TTL_SECONDS: String(settings.modelTtlSeconds),
        MAX_BATCH: String(settings.maxBatch),
        SAGEMAKER_ENDPOINTS: JSON.stringify(settings.sagemakerEndpoints),
        ...(props.dataBucket
          ? { DATA_BUCKET: props.dataBucket.bucketName, CAPTURE_SETTINGS: JSON.stringify(settings.capture) }
          : {}),
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICES.inference,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
    });
    // Read-only on purpose: only the pipeline and the registry CLI write models and aliases.
    grantObjects(props.modelBucket, this.fn, REGISTRY_PREFIX, ['s3:GetObject']);
    grantList(props.modelBucket, this.fn, [REGISTRY_PREFIX]);
    this.grantSageMakerEndpoints(Object.values(settings.sagemakerEndpoints));
    if (props.dataBucket) {
      // Feedback labels only: captured requests reach the bucket through the log subscription,
      // so the function can neither read nor overwrite what was captured.
      grantObjects(props.dataBucket, this.fn, FEEDBACK_PREFIX, ['s3:PutObject']);
      this.capture = new InferenceCapture(this, 'Capture', {
        logGroup: this.fn.logGroup,
        dataBucket: props.dataBucket,
        bufferingInterval: props.captureBufferingInterval,
        logRetention: props.logRetention,
      });
    }

    // The stage is created here rather than by HttpApi so it can carry throttling and logs.
    this.api = new apigw.HttpApi(this, 'Api', {
      createDefaultStage: false,
      description: 'Model inference (champion of each model)',
      corsPreflight: props.cors && {
        allowOrigins: [...props.cors.allowOrigins],
        allowMethods: CORS_ALLOW_METHODS.map((m) => apigw.CorsHttpMethod[m]),
        allowHeaders: [...CORS_ALLOW_HEADERS],
        exposeHeaders: [...CORS_EXPOSE_HEADERS],
        maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
      },
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: settings.throttling,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(
          new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH }),
        ),
        // JSON, so Logs Insights can query fields without a parse pattern.
        format: apigwv1.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    // The handler does its own routing (/predict, /models, ...), so every path reaches it.
    const integration = new HttpLambdaIntegration('Inference', this.fn);
    const authorizer = props.auth
      ? new HttpJwtAuthorizer('Jwt', props.auth.issuer, { jwtAudience: [...props.auth.audience] })
      : undefined;
    this.api.addRoutes({ path: '/{proxy+}', methods: [apigw.HttpMethod.ANY], integration, authorizer });
    this.api.addRoutes({ path: '/', methods: [apigw.HttpMethod.GET], integration, authorizer });
    // Uptime checks need no token; the more specific route wins over /{proxy+}.
    if (authorizer) {
      for (const route of this.api.addRoutes({
        path: '/health',
        methods: [apigw.HttpMethod.GET, apigw.HttpMethod.HEAD],
        integration,
      })) {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'GET and HEAD /health stay open for uptime checks; they reveal only liveness and the loaded model versions',
        });
      }
    } else {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          "no platform.auth configured: the API is public by the operator's choice (throttled per stage); set platform.auth to require a JWT",
      });
    }
    this.url = this.stage.url;
  }

  private grantSageMakerEndpoints(endpoints: readonly string[]): void {
    if (endpoints.length === 0) return;
    const stack = Stack.of(this);
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:InvokeEndpoint'],
        // SageMaker endpoint ARNs carry the name in lower case.
        resources: [...new Set(endpoints)].map((name) =>
          stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: name.toLowerCase() }),
        ),
      }),
    );
  }
}
