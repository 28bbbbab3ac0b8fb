import { z } from 'zod';
import { isValidName } from '../../core/registry/keys';
import type { CaptureSettings } from './capture';

/**
 * The inference function's configuration, read from the environment once at cold start.
 * Invalid or missing values fail fast with one error that lists every problem and what to set.
 */

/** API Gateway HTTP APIs refuse bodies above 10 MB, so a larger limit could never apply. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface InferenceConfig {
  /** The model registry bucket (registry/<model>/...). */
  readonly modelBucket: string;
  /** The model `POST /predict` uses when the request's feature names do not pick one. */
  readonly defaultModel?: string;
  /** How long a resolved `champion` is trusted before a (conditional, cheap) re-check. */
  readonly modelTtlMs: number;
  /** Most instances in one request (`{"instances": [...]}`). */
  readonly maxBatch: number;
  /** Largest request body, in bytes after base64 decoding. */
  readonly maxBodyBytes: number;
  /** Longest accepted value of a text feature, in characters. */
  readonly maxTextChars: number;
  /** Folder of <model>/{model.onnx,manifest.json}, served when S3 is unreachable at cold start. */
  readonly bundledModelsDir?: string;
  /** Models served by a SageMaker endpoint instead of onnxruntime: model name -> endpoint name. */
  readonly sagemakerEndpoints: Readonly<Record<string, string>>;
  /** The data bucket: feedback labels are written under feedback/<model>/. @default - feedback is refused */
  readonly dataBucket?: string;
  /** Data capture per model (from the specs' monitoring.capture); "*" for models not listed (else the defaults). */
  readonly captureSettings: Readonly<Record<string, CaptureSettings>>;
  /** A custom S3 (and SageMaker) endpoint, e.g. the local platform's S3 server; path-style addressing. */
  readonly awsEndpointUrl?: string;
  /** Where the try-it page links to the dashboard: an https URL or a path on this server. @default - no link */
  readonly dashboardUrl?: string;
}

export const CONFIG_DEFAULTS = {
  modelTtlSeconds: 60,
  maxBatch: 1000,
  maxBodyBytes: 1024 * 1024,
  maxTextChars: 10_000,
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const number = (fallback: number, check: z.ZodNumber) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      const parsed = check.safeParse(n);
      if (!parsed.success)
        ctx.addIssue({ code: 'custom', message: `${parsed.error.issues[0]?.message ?? 'invalid'} (got "${v}")` });
      return n;
    });

const endpoints = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx): Record<string, string> => {
    if (v === undefined || v === '') return {};
    let json: unknown;
    try {
      json = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"big-model":"big-model-endpoint"}' });
      return {};
    }
    const parsed = z.record(z.string().refine(isValidName), z.string().min(1)).safeParse(json);
    if (!parsed.success || Array.isArray(json)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must map model names to SageMaker endpoint names, e.g. {"big-model":"big-model-endpoint"}',
      });
      return {};
    }
    return Object.fromEntries(Object.entries(json as Record<string, string>));
  });

const captureEntry = z.strictObject({
  enabled: z.boolean(),
  sampleRate: z.number().min(0).max(1),
  retentionDays: z.number().int().min(1),
});

const captureSettings = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx): Record<string, CaptureSettings> => {
    if (v === undefined || v === '') return {};
    let json: unknown;
    try {
      json = JSON.parse(v);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON object, e.g. {"iris":{"enabled":true,"sampleRate":1,"retentionDays":30}}',
      });
      return {};
    }
    const parsed = z
      .record(
        z.string().refine((name) => name === '*' || isValidName(name)),
        captureEntry,
      )
      .safeParse(json);
    if (!parsed.success || Array.isArray(json)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must map model names (or "*" for any other model) to {"enabled": boolean, "sampleRate": 0..1, "retentionDays": whole days >= 1}',
      });
      return {};
    }
    return parsed.data;
  });

const schema = z.object({
  MODEL_BUCKET: z
    .string({ error: 'required: the model registry bucket name' })
    .trim()
    .min(1, 'required: the model registry bucket name'),
  DEFAULT_MODEL: optionalText.pipe(
    z.string().refine(isValidName, 'must be a model name (1-64 lower-case letters, digits, - or _)').optional(),
  ),
  MODEL_TTL_SECONDS: number(
    CONFIG_DEFAULTS.modelTtlSeconds,
    z.number().finite().min(0, 'must be a number of seconds >= 0'),
  ),
  MAX_BATCH: number(CONFIG_DEFAULTS.maxBatch, z.number().int('must be a whole number').min(1, 'must be at least 1')),
  MAX_BODY_BYTES: number(
    CONFIG_DEFAULTS.maxBodyBytes,
    z
      .number()
      .int('must be a whole number of bytes')
      .min(1024, 'must be at least 1024')
      .max(API_GATEWAY_MAX_BODY_BYTES, `must not exceed API Gateway's limit of ${API_GATEWAY_MAX_BODY_BYTES} bytes`),
  ),
  MAX_TEXT_CHARS: number(
    CONFIG_DEFAULTS.maxTextChars,
    z.number().int('must be a whole number').min(1, 'must be at least 1'),
  ),
  BUNDLED_MODELS_DIR: optionalText,
  SAGEMAKER_ENDPOINTS: endpoints,
  DATA_BUCKET: optionalText,
  CAPTURE_SETTINGS: captureSettings,
  AWS_ENDPOINT_URL: optionalText.pipe(z.url('must be a URL, e.g. http://127.0.0.1:4568').optional()),
  DASHBOARD_URL: optionalText.pipe(
    z
      .string()
      .refine(
        (url) => /^\/(?!\/)/.test(url) || (URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)),
        'must be an http(s) URL or a path starting with "/", e.g. /dashboard',
      )
      .optional(),
  ),
});

/** Reads the configuration; throws ConfigError naming every variable that is wrong and why. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): InferenceConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
    throw new ConfigError(`invalid inference configuration: ${problems.join('; ')}`);
  }
  const v = parsed.data;
  return {
    modelBucket: v.MODEL_BUCKET,
    defaultModel: v.DEFAULT_MODEL,
    modelTtlMs: Math.round(v.MODEL_TTL_SECONDS * 1000),
    maxBatch: v.MAX_BATCH,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxTextChars: v.MAX_TEXT_CHARS,
    bundledModelsDir: v.BUNDLED_MODELS_DIR,
    sagemakerEndpoints: v.SAGEMAKER_ENDPOINTS,
    dataBucket: v.DATA_BUCKET,
    captureSettings: v.CAPTURE_SETTINGS,
    awsEndpointUrl: v.AWS_ENDPOINT_URL,
    dashboardUrl: v.DASHBOARD_URL,
  };
}
