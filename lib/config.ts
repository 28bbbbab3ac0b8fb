import type { ModelRolloutProps } from './constructs/rollout';
import { type BatchTransformProps, MAX_BATCH_MAX_CONCURRENCY } from './constructs/batch-transform';
import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import type { MonitoringSettings } from '../core/monitoring/contract';
import { type ModelSpec, monitoringSettings } from '../core/pipeline/model-spec';
import type { InferenceApiProps } from './constructs/inference-api';
import type { MonitoringJobProps } from './constructs/monitoring-job';
import { DEFAULT_TRAINING_MAX_CONCURRENCY, MAX_TRAINING_MAX_CONCURRENCY } from './constructs/retraining-definition';
import type { RetrainingPipelineProps } from './constructs/retraining-pipeline';
import { fargateSizeProblem, MANAGED_TRAINING_DEFAULTS } from './constructs/managed-training';
import { type AlarmThresholds, DEFAULT_ALARM_THRESHOLDS } from './monitoring/alarm-thresholds';
import type { MonitoredModel } from './monitoring/platform-alarms';

/**
 * The platform's deploy-time configuration: the `platform` object in cdk.json's context (or
 * `-c platform='{"...":...}'`), plus the model specs (config/models: data contract, algorithms,
 * gate margin and floor, schedule). Validated at synth with every problem listed at once, each
 * naming its key and what fits. bin/app.ts is the only reader of context; stacks get typed values.
 */

export class PlatformConfigError extends Error {
  override readonly name = 'PlatformConfigError';
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid platform configuration (cdk.json context "platform", or -c platform='{...}'):\n  - ${problems.join('\n  - ')}`,
    );
  }
}

/** CloudWatch Logs' allowed retention periods, in days. */
const RETENTION_DAYS = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0);

const memory = z.number().int().min(128).max(10_240);
/** What fits platform.pipeline.maxConcurrency, and what was received. */
const maxConcurrencyProblem = (issue: { readonly input?: unknown }): string =>
  `must be a whole number of candidates trained at once from 1 to ${MAX_TRAINING_MAX_CONCURRENCY} (Step Functions runs at most ${MAX_TRAINING_MAX_CONCURRENCY} inline Map iterations at once; 0, "unlimited", is refused: one run could take all of the account's Lambda concurrency), got ${JSON.stringify(issue.input)}`;
const settingsSchema = z
  .object({
    /** The model `POST /predict` uses when the request does not pick one; must have a spec. */
    defaultModel: z.string().optional(),
    /** Termination protection on the stateful stack (buckets). */
    terminationProtection: z.boolean().default(true),
    /** Days an overwritten or deleted object version is kept. */
    noncurrentVersionExpirationDays: z.number().int().min(1).default(90),
    /** How long every log group keeps its logs (one of CloudWatch's allowed values). */
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => RETENTION_DAYS.includes(d), {
        message: `must be one of CloudWatch's retention periods: ${RETENTION_DAYS.join(', ')}`,
      })
      .default(30),
    inference: z
      .object({
        memorySize: memory.optional(),
        modelTtlSeconds: z.number().int().min(0).max(3600).optional(),
        maxBatch: z.number().int().min(1).max(10_000).optional(),
        throttling: z
          .object({ rateLimit: z.number().positive(), burstLimit: z.number().int().min(1).max(5000) })
          .strict()
          .optional(),
        /** Models served by SageMaker endpoints: model name -> endpoint name. */
        sagemakerEndpoints: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .default({}),
    pipeline: z
      .object({
        memorySize: memory.optional(),
        timeoutMinutes: z.number().int().min(1).max(15).optional(),
        /**
         * How many candidates one run trains at once (the training Map's MaxConcurrency), each a
         * concurrent execution of the pipeline function. The default, 5, fits a new account's low
         * Lambda concurrency quota (DEFAULT_TRAINING_MAX_CONCURRENCY explains it); raise it with the quota.
         */
        maxConcurrency: z
          .number({ error: maxConcurrencyProblem })
          .int({ error: maxConcurrencyProblem })
          .min(1, { error: maxConcurrencyProblem })
          .max(MAX_TRAINING_MAX_CONCURRENCY, { error: maxConcurrencyProblem })
          .default(DEFAULT_TRAINING_MAX_CONCURRENCY),
        /**
         * The managed training engine (lib/constructs/managed-training.ts): an ECS Fargate task per
         * candidate for data beyond one function. false: Lambda only, and such data is refused.
         */
        managedTraining: z
          .union([
            z.literal(false),
            z
              .object({
                cpu: z.number().int().optional(),
                memoryMiB: z.number().int().optional(),
                timeoutMinutes: z.number().int().min(15).max(1440).optional(),
              })
              .strict()
              .superRefine((m, ctx) => {
                const problem = fargateSizeProblem(
                  m.cpu ?? MANAGED_TRAINING_DEFAULTS.cpu,
                  m.memoryMiB ?? MANAGED_TRAINING_DEFAULTS.memoryMiB,
                );
                if (problem) ctx.addIssue({ code: 'custom', message: problem });
              }),
          ])
          .default({}),
      })
      .strict()
      .default({ maxConcurrency: DEFAULT_TRAINING_MAX_CONCURRENCY, managedTraining: {} }),
    /** The canary rollout's function (lib/constructs/rollout.ts): a few S3 calls and some arithmetic per step. */
    rollout: z
      .object({
        memorySize: memory.optional(),
        timeoutSeconds: z.number().int().min(3).max(900).optional(),
      })
      .strict()
      .default({}),
    /** The production data loop's monitoring job (lib/constructs/monitoring-job.ts): reads a window of captured records and feedback per model. */
    monitoringJob: z
      .object({
        memorySize: memory.optional(),
        timeoutSeconds: z.number().int().min(1).max(900).optional(),
      })
      .strict()
      .default({}),
    /** Batch transform (lib/constructs/batch-transform.ts): the Distributed Map's limits and the function's memory. */
    batch: z
      .object({
        memorySize: memory.optional(),
        /** Children scoring at once; each is one concurrent execution of the batch function. */
        maxConcurrency: z.number().int().min(1).max(MAX_BATCH_MAX_CONCURRENCY).optional(),
        chunksPerBatch: z.number().int().min(1).max(100).optional(),
        toleratedFailurePercentage: z.number().min(0).max(100).optional(),
      })
      .strict()
      .default({}),
    /** Origins whose pages may call the inference API from a browser (core/cors.ts); off when absent. */
    cors: z
      .object({ allowOrigins: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
    /** Optional JWT authorization of the inference API. */
    auth: z
      .object({ issuer: z.string().url().startsWith('https://'), audience: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
    /** Alarm thresholds overriding the defaults (lib/monitoring/alarm-thresholds.ts; ranges checked by the MonitoringStack). */
    alarms: z
      .partialRecord(
        z.enum(Object.keys(DEFAULT_ALARM_THRESHOLDS) as [keyof AlarmThresholds, ...(keyof AlarmThresholds)[]]),
        z.number(),
      )
      .default({}),
    /** Where alarm notifications are emailed (a subscription to the alarm topic). */
    alarmEmail: z.string().email().optional(),
  })
  .strict();

export type PlatformSettings = z.output<typeof settingsSchema>;

export interface PlatformConfig {
  readonly settings: PlatformSettings;
  readonly specs: readonly ModelSpec[];
  readonly storage: {
    readonly terminationProtection: boolean;
    readonly noncurrentVersionExpirationDays: number;
    readonly captureRetentionDays: Readonly<Record<string, number>>;
  };
  readonly inference: Omit<InferenceApiProps, 'modelBucket' | 'dataBucket'>;
  readonly pipeline: Omit<RetrainingPipelineProps, 'dataBucket' | 'modelBucket' | 'models'>;
  readonly rollout: Omit<ModelRolloutProps, 'modelBucket' | 'models' | 'topic'>;
  readonly monitoringJob: Omit<MonitoringJobProps, 'dataBucket' | 'modelBucket' | 'stateMachine' | 'models'>;
  readonly batch: Omit<BatchTransformProps, 'dataBucket' | 'modelBucket'>;
  readonly monitoring: {
    readonly models: readonly MonitoredModel[];
    readonly thresholds: Partial<AlarmThresholds>;
    readonly alarmEmail?: string;
  };
}

/** `-c platform=...` arrives as a JSON string; cdk.json gives an object. */
function contextObject(raw: unknown): unknown {
  if (raw === undefined) return {};
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new PlatformConfigError([`platform: must be a JSON object, got ${JSON.stringify(raw.slice(0, 80))}`]);
  }
}

export function platformConfig(rawContext: unknown, specs: readonly ModelSpec[]): PlatformConfig {
  const parsed = settingsSchema.safeParse(contextObject(rawContext));
  if (!parsed.success) {
    throw new PlatformConfigError(
      parsed.error.issues.map((issue) => `${['platform', ...issue.path].join('.')}: ${issue.message}`),
    );
  }
  const settings = parsed.data;
  const names = specs.map((s) => s.name);
  const problems: string[] = [];
  if (specs.length === 0) problems.push('config/models holds no model spec: add one (see config/models/iris.json)');
  if (settings.defaultModel !== undefined && !names.includes(settings.defaultModel)) {
    problems.push(
      `platform.defaultModel: "${settings.defaultModel}" has no spec in config/models (have: ${names.join(', ') || 'none'})`,
    );
  }
  for (const model of Object.keys(settings.inference.sagemakerEndpoints ?? {})) {
    if (!names.includes(model))
      problems.push(
        `platform.inference.sagemakerEndpoints: "${model}" has no spec in config/models (have: ${names.join(', ')})`,
      );
  }
  if (problems.length > 0) throw new PlatformConfigError(problems);

  const logRetention = settings.logRetentionDays as logs.RetentionDays;
  const { inference, pipeline, rollout, monitoringJob } = settings;
  /** One value per model, from its spec's monitoring settings (defaults applied). */
  const perModel = <T>(f: (m: MonitoringSettings) => T): Record<string, T> =>
    Object.fromEntries(specs.map((s) => [s.name, f(monitoringSettings(s))]));
  return {
    settings,
    specs,
    storage: {
      terminationProtection: settings.terminationProtection,
      noncurrentVersionExpirationDays: settings.noncurrentVersionExpirationDays,
      captureRetentionDays: perModel((m) => m.capture.retentionDays),
    },
    inference: {
      defaultModel: settings.defaultModel,
      memorySize: inference.memorySize,
      modelTtl: inference.modelTtlSeconds === undefined ? undefined : Duration.seconds(inference.modelTtlSeconds),
      maxBatch: inference.maxBatch,
      throttling: inference.throttling,
      sagemakerEndpoints: inference.sagemakerEndpoints,
      auth: settings.auth,
      cors: settings.cors,
      capture: perModel((m) => m.capture),
      logRetention,
    },
    pipeline: {
      memorySize: pipeline.memorySize,
      timeout: pipeline.timeoutMinutes === undefined ? undefined : Duration.minutes(pipeline.timeoutMinutes),
      maxConcurrency: pipeline.maxConcurrency,
      managedTraining:
        pipeline.managedTraining === false
          ? false
          : {
              cpu: pipeline.managedTraining.cpu,
              memoryMiB: pipeline.managedTraining.memoryMiB,
              timeout:
                pipeline.managedTraining.timeoutMinutes === undefined
                  ? undefined
                  : Duration.minutes(pipeline.managedTraining.timeoutMinutes),
            },
      logRetention,
    },
    rollout: {
      memorySize: rollout.memorySize,
      timeout: rollout.timeoutSeconds === undefined ? undefined : Duration.seconds(rollout.timeoutSeconds),
      logRetention,
    },
    monitoringJob: {
      memorySize: monitoringJob.memorySize,
      timeout: monitoringJob.timeoutSeconds === undefined ? undefined : Duration.seconds(monitoringJob.timeoutSeconds),
      logRetention,
    },
    batch: { ...settings.batch, logRetention },
    monitoring: {
      models: specs.map((s) => {
        const m = monitoringSettings(s);
        // A model with capture off has nothing to judge: no drift or live-accuracy alarm.
        const dataLoop = m.capture.enabled
          ? {
              monitoring: {
                driftThreshold: m.driftThreshold,
                ...(m.liveAccuracyFloor === undefined ? {} : { liveAccuracyFloor: m.liveAccuracyFloor }),
              },
            }
          : {};
        return { name: s.name, gateMetric: s.gate.metric, schedule: s.schedule, ...dataLoop };
      }),
      thresholds: settings.alarms as Partial<AlarmThresholds>,
      alarmEmail: settings.alarmEmail,
    },
  };
}
