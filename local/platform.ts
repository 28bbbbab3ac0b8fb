import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { monitoringSettings } from '../core/pipeline/model-spec';
import { loadModelSpecs } from '../core/pipeline/model-specs';
import { listRuns } from '../core/pipeline/runs';
import { OnnxModelValidator } from '../core/registry/onnx-validator';
import { ModelRegistry } from '../core/registry/registry';
import { rolloutRequestKey } from '../core/registry/routing';
import { RoutingStore } from '../core/registry/routing-store';
import { S3ObjectStore } from '../core/s3-object-store';
import type { MonitoringReport } from '../core/monitoring/contract';
import { buildInferenceApp } from '../lambdas/inference/build-app';
import { loadConfig } from '../lambdas/inference/config';
import type { AppLog } from '../lambdas/inference/metrics';
import { INCOMING_PREFIX } from '../lambdas/pipeline/keys';
import { createMonitoringRunner } from '../lambdas/monitoring/runner';
import { createRolloutRunner } from '../lambdas/rollout/runner';
import { LocalBatch } from './local-batch';
import { LocalCaptureDelivery } from './capture-delivery';
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from './dashboard-page';
import { parseEmfLine } from './emf';
import { type PlatformEndpoints, writeEndpoints } from './endpoints';
import { type HttpApi, startHttpApi } from './http-api';
import { LocalMetrics } from './local-metrics';
import { LocalPipeline, type PipelineEvent } from './local-pipeline';
import { MANAGED_TRAINING_DEFAULTS } from '../lib/constructs/managed-training';
import { executionNameFor } from './pipeline-executions';
import { CanaryAlarms } from './rollout-alarms';
import { LocalRollout, type RolloutEvent, rolloutProgress } from './rollout-machine';
import { LocalVariantMetrics } from './rollout-metrics';
import { LOCAL_S3_CREDENTIALS, localS3Client, startS3Server } from './s3-server';
import { startSchedules } from './schedules';
import { seedPlan } from './seed';
import { corsFromEnv, corsProblems, type CorsSettings } from '../core/cors';

/**
 * The whole platform on one machine, no AWS account, no Docker: a real S3 server (data kept in
 * <dataDir>/s3), the inference handler behind a local HTTP API, the synthesised retraining state
 * machine run by a real ASL interpreter on uploads under incoming/, a first model per spec, and
 * a local view of the metrics the functions emit (GET /dashboard).
 */

const LOCAL_BUCKETS = { data: 'mlops-data', models: 'mlops-models' } as const;
const LOCAL_REGION = 'us-east-1';

export interface LocalPlatformOptions {
  /** Objects, scratch space and endpoints.json live here; a second start resumes from it. */
  readonly dataDir: string;
  /** The API's port; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** The S3 server's port; 0 picks a free one. @default 4568 */
  readonly s3Port?: number;
  /** @default - the repository's config/models */
  readonly specsDir?: string;
  /** Train and promote a first model per spec that has none. @default true */
  readonly seed?: boolean;
  /** How long the API trusts a resolved champion before re-checking. @default 5 (AWS default: 60) */
  readonly modelTtlSeconds?: number;
  /** The model POST /predict uses when the features do not pick one. @default 'iris' when configured */
  readonly defaultModel?: string;
  /** Progress lines. @default console.log */
  readonly log?: (line: string) => void;
  /** Pipeline events, for callers that format their own progress. */
  readonly onPipelineEvent?: (event: PipelineEvent) => void;
  /** Rollout events (executions, verdicts, notices, alarm aborts). @default - progress lines to `log` */
  readonly onRolloutEvent?: (event: RolloutEvent) => void;
  /**
   * The canary rollback alarm's period: a canary 5xx within the last this many seconds is ALARM.
   * Evaluated every second, so a failing canary is aborted within seconds. @default 60 (the stack's)
   */
  readonly canaryAlarmPeriodSeconds?: number;
  /** Cross-origin access to the API (core/cors.ts). @default - CORS_ALLOW_ORIGINS (comma-separated), else off */
  readonly cors?: CorsSettings;
  /**
   * The pipeline function's memory as Prepare's capacity check sees it (Lambda's
   * AWS_LAMBDA_FUNCTION_MEMORY_SIZE): data beyond what one function of this size trains goes to
   * the managed training task (a child process here). A test sets it low to send small data there.
   * @default - 3008, the stack's default (REFERENCE_RESOURCES)
   */
  readonly pipelineMemoryMb?: number;
}

export interface LocalPlatform {
  readonly endpoints: PlatformEndpoints;
  readonly dataDir: string;
  readonly metrics: LocalMetrics;
  readonly pipeline: LocalPipeline;
  /** Batch transform jobs (uploads under batch/<model>/), the BatchTransform state machine run locally. */
  readonly batch: LocalBatch;
  /** Rollouts of canaries (the ModelRollout state machine) and the canary rollback alarms. */
  readonly rollout: LocalRollout;
  /** The inference app's per-variant metrics, as the rollout gate reads them. */
  readonly variantMetrics: LocalVariantMetrics;
  /** The monitoring job (lambdas/monitoring), run on each spec's monitoring schedule and on demand. */
  readonly monitoring: LocalMonitoring;
  /** Resolves when first-start seeding, and every run resumed from a previous start, has finished. */
  readonly seeded: Promise<void>;
  /** The spec'd models with no champion to serve, and why (after `seeded`: what "models ready" must name). */
  unserved(): Promise<{ readonly model: string; readonly reason: string }[]>;
  close(): Promise<void>;
}

const REPO_ROOT = join(__dirname, '..');

export interface LocalMonitoring {
  /**
   * One tick of the monitoring job for the model, as its schedule (or `drift --now`) runs it: what
   * the capture buffer holds is written first (in AWS, Firehose delivers within its buffer interval).
   */
  run(model: string): Promise<MonitoringReport & { readonly reportKey: string }>;
}

export async function startLocalPlatform(options: LocalPlatformOptions): Promise<LocalPlatform> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = options.dataDir;
  const scratch = join(dataDir, 'tmp');
  mkdirSync(join(dataDir, 's3'), { recursive: true });
  mkdirSync(scratch, { recursive: true });
  const specs = loadModelSpecs(options.specsDir ?? join(REPO_ROOT, 'config', 'models'));

  const s3 = await startS3Server({
    port: options.s3Port ?? 4568,
    directory: join(dataDir, 's3'),
    buckets: [LOCAL_BUCKETS.data, LOCAL_BUCKETS.models],
  });
  // What a function's execution environment has in AWS: credentials and region in the environment.
  // The local S3 server accepts only its own keys. Only the function processes get these: this
  // process hands its own clients to what it runs in-process, and leaves its process.env alone.
  const awsEnv = {
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL: s3.endpoint,
    // The SDK's default request checksums postdate s3rver.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
  };

  // Kept in the data folder, so the dashboard's history and totals outlive a restart.
  const metrics = new LocalMetrics({ file: join(dataDir, 'metrics.json') });
  // Written in the background: a synchronous save of an hour of samples blocked the API for up to 0.5 s.
  const metricsSaver = setInterval(
    () =>
      void metrics
        .saveInBackground()
        .catch((error: unknown) => log(`metrics not saved: ${error instanceof Error ? error.message : String(error)}`)),
    5_000,
  ).unref();
  const variantMetrics = new LocalVariantMetrics();
  const client = localS3Client(s3.endpoint);
  const dataStore = new S3ObjectStore(client, LOCAL_BUCKETS.data);
  const modelStore = new S3ObjectStore(client, LOCAL_BUCKETS.models);
  const registry = new ModelRegistry(modelStore, new OnnxModelValidator());

  const pipeline = new LocalPipeline({
    specs,
    dataBucket: LOCAL_BUCKETS.data,
    modelBucket: LOCAL_BUCKETS.models,
    functionEnv: {
      ...awsEnv,
      DATA_BUCKET: LOCAL_BUCKETS.data,
      MODEL_BUCKET: LOCAL_BUCKETS.models,
      MODEL_SPECS_DIR: options.specsDir ?? join(REPO_ROOT, 'config', 'models'),
      TMPDIR: scratch,
      ...(options.pipelineMemoryMb ? { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.pipelineMemoryMb) } : {}),
      // The managed training task the stack deploys by default (lib/constructs/managed-training.ts).
      MANAGED_TRAINING_MEMORY_MB: String(MANAGED_TRAINING_DEFAULTS.memoryMiB),
      MANAGED_TRAINING_TIMEOUT_SECONDS: String(MANAGED_TRAINING_DEFAULTS.timeoutMinutes * 60),
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      // Node 20's deprecation notice: this process prints it once already.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    onEvent: (event) => options.onPipelineEvent?.(event),
    onFunctionOutput: (line, stream) => {
      const records = parseEmfLine(line);
      if (records.length > 0) {
        for (const record of records) metrics.recordMetric(record);
        return;
      }
      log(functionLogLine(line, stream));
    },
  });

  const batch = new LocalBatch({
    specs,
    dataBucket: LOCAL_BUCKETS.data,
    modelBucket: LOCAL_BUCKETS.models,
    client,
    functionEnv: {
      ...awsEnv,
      DATA_BUCKET: LOCAL_BUCKETS.data,
      MODEL_BUCKET: LOCAL_BUCKETS.models,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    onEvent: (event) => {
      if (event.type === 'started') log(`batch      ${event.key}: job ${event.execution} started`);
      if (event.type === 'finished')
        log(
          `batch      ${event.key}: job ${event.execution} ${event.result.status === 'SUCCEEDED' ? 'ended; see its report.json' : `failed: ${event.result.error}`}`,
        );
    },
    onFunctionOutput: (line, stream) => log(`batch-fn ${stream === 'stderr' ? '!' : ' '} ${line}`),
  });

  const appLog: AppLog = {
    info: () => undefined,
    warn: (message, attributes) =>
      log(`inference  WARN  ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}`),
    error: (message, attributes) =>
      log(`inference  ERROR ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}`),
  };
  const defaultModel = options.defaultModel ?? (specs.some((s) => s.name === 'iris') ? 'iris' : undefined);
  const config = loadConfig({
    MODEL_BUCKET: LOCAL_BUCKETS.models,
    DEFAULT_MODEL: defaultModel,
    MODEL_TTL_SECONDS: String(options.modelTtlSeconds ?? 5),
    AWS_ENDPOINT_URL: s3.endpoint,
    DATA_BUCKET: LOCAL_BUCKETS.data,
    DASHBOARD_URL: '/dashboard',
    CAPTURE_SETTINGS: JSON.stringify(
      Object.fromEntries(specs.map((spec) => [spec.name, monitoringSettings(spec).capture])),
    ),
  });
  // The capture path's Firehose: captured lines to capture/<model>/ in the data bucket.
  const capture = new LocalCaptureDelivery({
    store: dataStore,
    onError: (error) => log(`capture    ERROR ${error instanceof Error ? error.message : String(error)}`),
  });
  const app = buildInferenceApp(config, {
    s3: client,
    // The dashboard reads the listener's records; EMF lines on this terminal would only be noise.
    emitMetrics: false,
    log: appLog,
    captureSink: capture,
    metricListener: (record) => {
      metrics.recordMetric(record);
      variantMetrics.record(record);
    },
  });

  // The ModelRollout stack part: its state machine, the rollout steps in this process (see
  // local/rollout-machine.ts for why), and a canary rollback alarm per model.
  const routing = new RoutingStore(modelStore, registry, new OnnxModelValidator());
  const rollout = new LocalRollout({
    specs,
    modelBucket: LOCAL_BUCKETS.models,
    runner: createRolloutRunner({ store: modelStore, routing, metrics: variantMetrics, clock: () => new Date() }),
    onEvent: options.onRolloutEvent ?? rolloutProgress(log),
  });
  const canaryAlarms = new CanaryAlarms({
    metrics: variantMetrics,
    models: specs.map((s) => s.name),
    periodSeconds: options.canaryAlarmPeriodSeconds,
    onAlarm: (event) => rollout.alarm(event),
    log,
  });

  // The MonitoringJob stack part: the same runner as the Lambda, drift retrains started here.
  const runMonitoringJob = createMonitoringRunner({
    dataStore,
    models: registry,
    specs: new Map(specs.map((spec) => [spec.name, spec])),
    retrain: {
      start: async (model, reportKey, name) => ({
        started: pipeline.startRun(model, 'drift', { reportKey, name }) !== undefined,
      }),
    },
    clock: () => new Date(),
    recorder: { record: (record) => metrics.recordMetric(record) },
    log: {
      info: () => undefined,
      warn: (message, attributes) =>
        log(`monitoring WARN  ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}`),
    },
  });
  const monitoring: LocalMonitoring = {
    async run(model) {
      await capture.flush();
      const { report, reportKey } = await runMonitoringJob({ model });
      return { ...report, reportKey };
    },
  };
  const cors = options.cors ?? corsFromEnv(process.env.CORS_ALLOW_ORIGINS);
  const corsIssues = cors ? corsProblems(cors) : [];
  if (corsIssues.length > 0) throw new Error(`CORS_ALLOW_ORIGINS: ${corsIssues.join('; ')}`);
  const localJson = (status: number, body: unknown) => ({
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  });
  const unknownModel = (model: string) =>
    localJson(404, {
      error: {
        code: 'unknown_model',
        message: `no model spec for ${JSON.stringify(model)} (known: ${specs.map((spec) => spec.name).join(', ')})`,
      },
    });
  let api: HttpApi;
  try {
    api = await startHttpApi({
      port: options.port ?? 3000,
      handler: (event) => app.handle(event),
      localRoutes: {
        '/dashboard': () => ({
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8', ...DASHBOARD_HEADERS },
          body: DASHBOARD_HTML,
        }),
        '/dashboard/data': () => ({
          status: 200,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          body: JSON.stringify(metrics.snapshot()),
        }),
        // `npm run retrain -- <model>` against the local platform: an on-demand run, as StartExecution.
        'POST /_local/retrain/{model}': ({ params }) => {
          if (!specs.some((spec) => spec.name === params.model)) return unknownModel(params.model);
          const execution = pipeline.startRun(params.model, 'manual');
          if (!execution)
            return localJson(409, {
              error: { code: 'already_started', message: `a run for ${params.model} started this millisecond` },
            });
          return localJson(202, { execution: execution.name });
        },
        // `npm run retrain -- <model> --wait`: an execution's status, as DescribeExecution.
        'GET /_local/executions/{name}': async ({ params }) => {
          const execution = pipeline.find(params.name);
          if (!execution)
            return localJson(404, {
              error: { code: 'unknown_execution', message: `no execution ${params.name} in this npm start` },
            });
          const running = Symbol('running');
          const result = await Promise.race([execution.result, Promise.resolve(running)]);
          return localJson(200, result === running ? { execution: execution.name, status: 'RUNNING' } : result);
        },
        // `npm run registry -- drift <model> --now` against the local platform (API_URL): the monitoring job now.
        'POST /_local/monitoring/{model}': async ({ params }) => {
          if (!specs.some((spec) => spec.name === params.model)) return unknownModel(params.model);
          try {
            return localJson(200, await monitoring.run(params.model));
          } catch (error) {
            return localJson(500, {
              error: { code: 'monitoring_failed', message: error instanceof Error ? error.message : String(error) },
            });
          }
        },
      },
      onRequest: (record) => metrics.recordRequest(record),
      cors,
    });
  } catch (error) {
    await canaryAlarms.close();
    await rollout.close();
    await capture.close();
    await pipeline.close();
    await batch.close();
    await s3.close();
    throw error;
  }

  // What the stack's EventBridge rules do: objects created under incoming/ start the pipeline,
  // rollout requests under registry/<model>/rollouts/ start a rollout.
  const unsubscribe = s3.onObjectCreated((object) => {
    if (object.etag === undefined) return;
    const upload = { bucket: object.bucket, key: object.key, etag: object.etag };
    if (rollout.onObjectCreated(upload)) return;
    if (batch.handles(upload)) {
      batch.onObjectCreated(upload);
      return;
    }
    const started = pipeline.onObjectCreated(upload);
    if (started === undefined && pipeline.find(executionNameFor(upload))) {
      log(
        `pipeline   ${object.key}: this object version (same key and content) was already handled by execution ${executionNameFor(upload)}; upload under another name to retrain`,
      );
    }
  });

  const endpoints: PlatformEndpoints = {
    apiUrl: api.url,
    s3Endpoint: s3.endpoint,
    region: LOCAL_REGION,
    dataBucket: LOCAL_BUCKETS.data,
    modelBucket: LOCAL_BUCKETS.models,
  };
  writeEndpoints(dataDir, endpoints);

  // Uploads a previous run stopped before handling (Ctrl-C mid-run) are picked up again.
  const leftovers = await client.send(
    new ListObjectsV2Command({ Bucket: LOCAL_BUCKETS.data, Prefix: INCOMING_PREFIX }),
  );
  for (const object of leftovers.Contents ?? []) {
    if (object.Key && object.ETag)
      pipeline.onObjectCreated({ bucket: LOCAL_BUCKETS.data, key: object.Key, etag: object.ETag.replace(/"/g, '') });
  }

  // Batch jobs a previous run stopped before their report start again (same job, same pinned version).
  for (const job of await batch.resumeUnfinished()) log(`batch      ${job.key}: job ${job.name} resumed`);

  // Rollouts a previous run stopped mid-way resume under the same execution name: Begin finds its
  // own claim and carries on at the step the routing document is at.
  for (const spec of specs) {
    // An unreadable document is the inference function's to report (RoutingDocumentErrors): nothing to resume.
    const canary = (await routing.read(spec.name).catch(() => undefined))?.document.canary;
    if (!canary?.plan) continue;
    const key = rolloutRequestKey(spec.name, canary.rolloutId);
    const request = await modelStore.get(key);
    if (request) rollout.onObjectCreated({ bucket: LOCAL_BUCKETS.models, key, etag: request.etag });
  }

  // The specs' rate schedules, as the stack's EventBridge schedule rules would start them.
  const schedules = startSchedules(specs, (model) => pipeline.startRun(model, 'schedule'));
  for (const note of schedules.notes) log(`schedule   ${note}`);

  const monitoringTick = (model: string) =>
    monitoring.run(model).then(
      (report) => {
        if (report.drifted.length > 0 || report.retrain.started)
          log(`monitoring ${model}: drift in ${report.drifted.join(', ')}; ${report.retrain.reason}`);
      },
      (error: unknown) =>
        log(`monitoring ${model}: the job failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  const monitoringSchedules = startSchedules(
    specs.map((spec) => ({ name: spec.name, schedule: monitoringSettings(spec).schedule })),
    (model) => void monitoringTick(model),
  );
  for (const note of monitoringSchedules.notes) log(`monitoring ${note}`);

  const seeded = (options.seed === false ? Promise.resolve() : seed()).then(() => pipeline.idle());
  async function seed(): Promise<void> {
    const plan = await seedPlan(specs, registry, dataStore);
    for (const skipped of plan.skipped) log(`seed       ${skipped.model}: ${skipped.reason}`);
    if (plan.uploads.length > 0)
      log(
        `seed       first start: training ${plan.uploads.map((u) => u.model).join(', ')} from the bundled data, in that order; each serves once promoted`,
      );
    for (const upload of plan.uploads) {
      const { etag } = await dataStore.put(upload.key, upload.body);
      const object = { bucket: LOCAL_BUCKETS.data, key: upload.key, etag };
      const execution = pipeline.onObjectCreated(object) ?? pipeline.find(executionNameFor(object));
      if (execution) await execution.result;
    }
  }

  let closed = false;
  return {
    endpoints,
    dataDir,
    metrics,
    pipeline,
    batch,
    rollout,
    variantMetrics,
    monitoring,
    seeded,
    async unserved() {
      const missing: { model: string; reason: string }[] = [];
      for (const spec of specs) {
        if ((await registry.resolveAlias(spec.name, 'champion')) !== undefined) continue;
        const last = (await listRuns(modelStore, spec.name)).at(-1);
        const reason =
          last?.status === 'failed'
            ? `its last run failed: ${last.failure.error?.error ?? 'see runs/'}`
            : `no champion yet: upload data to incoming/${spec.name}/`;
        missing.push({ model: spec.name, reason });
      }
      return missing;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(metricsSaver);
      metrics.save();
      unsubscribe();
      schedules.stop();
      monitoringSchedules.stop();
      await canaryAlarms.close();
      await rollout.close();
      await api.close();
      await capture.close();
      await pipeline.close();
      await batch.close();
      await s3.close();
    },
  };
}

/** The function's Powertools JSON log lines, compacted; anything else as written. */
function functionLogLine(line: string, stream: 'stdout' | 'stderr'): string {
  try {
    const entry = JSON.parse(line) as { level?: string; message?: string; error?: unknown };
    if (typeof entry.message === 'string')
      return `pipeline-fn ${entry.level ?? ''} ${entry.message}${entry.error ? ` ${JSON.stringify(entry.error)}` : ''}`;
  } catch {
    // not JSON
  }
  return `pipeline-fn ${stream === 'stderr' ? '!' : ' '} ${line}`;
}
