/**
 * A model spec: everything the retraining pipeline needs to know about one model (how to read its
 * data, the data contract an upload must meet, what to train, and when to promote). Specs live in
 * versioned config (config/models/*.json) read by the CDK app and by the pipeline at run time, so
 * validation is strict and every error names the file, the field, what was expected and what came.
 */
import { z } from 'zod';
import { nameProblem } from '../registry/keys';
import { DEFAULT_MONITORING, type MonitoringSettings } from '../monitoring/contract';
import { rolloutPlanSchema } from '../registry/routing';

export const ALGORITHMS = ['lr', 'gbdt', 'rf', 'nb', 'svm'] as const;
export const METRICS = ['macroF1', 'accuracy'] as const;
export type GateMetric = (typeof METRICS)[number];

/** Per-column share of missing values an upload may have unless the spec says otherwise. */
export const DEFAULT_MAX_MISSING_FRACTION = 0.5;
/** Share of rows that may be dropped as bad before the whole file is treated as suspect. */
export const DEFAULT_MAX_DROPPED_FRACTION = 0.05;

const fraction = (what = 'a number between 0 and 1') =>
  z
    .number({ error: `must be ${what}` })
    .min(0, `must be ${what}`)
    .max(1, `must be ${what}`);
const columnName = z
  .string({ error: 'must be a column name (a string)' })
  .trim()
  .min(1, 'must be a non-empty column name');
const columnList = z.array(columnName, { error: 'must be a list of column names' });

/**
 * EventBridge schedule expressions. EventBridge itself only says "invalid expression" at deploy
 * time, so the common mistakes (plural with 1, 5 cron fields) are caught here with the fix.
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) return `must have a rate of at least 1, got "${expression}"`;
    const plural = rate[2].endsWith('s');
    if (n === 1 && plural)
      return `must use the singular unit for 1 ("rate(1 ${rate[2].slice(0, -1)})"), got "${expression}"`;
    if (n > 1 && !plural) return `must use the plural unit for ${n} ("rate(${n} ${rate[2]}s)"), got "${expression}"`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6) {
      return `must have 6 cron fields (minutes hours day-of-month month day-of-week year), got ${fields.length} in "${expression}"`;
    }
    if (fields[2] !== '?' && fields[4] !== '?')
      return `must use "?" for day-of-month or day-of-week (EventBridge requires one), got "${expression}"`;
    return undefined;
  }
  return `must be "rate(N hours|days)" or "cron(m h dom mon dow year)", got "${expression}"`;
}

const dataSchema = z.strictObject({
  /** Column names for headerless files; without it the file must have a header row. */
  columns: columnList.min(2, 'must name at least two columns (a feature and the label)').optional(),
  delimiter: z
    .string({ error: 'must be a one-character string' })
    .length(1, 'must be exactly one character (e.g. "," or "\\t")')
    .optional(),
  quoting: z.boolean({ error: 'must be true or false' }).optional(),
  label: columnName,
  exclude: columnList.optional(),
  types: z
    .record(
      columnName,
      z.enum(['numeric', 'categorical', 'text'], { error: 'must be "numeric", "categorical" or "text"' }),
    )
    .optional(),
  /** How a missing categorical value is encoded (core/data/schema.ts MissingCategory); default "own". */
  missingCategory: z.enum(['own', 'most-frequent'], { error: 'must be "own" or "most-frequent"' }).optional(),
});

const contractSchema = z.strictObject({
  /** @default - every named feature plus the label */
  requiredColumns: columnList.optional(),
  labelValues: z
    .array(z.string({ error: 'must be a string' }).min(1), { error: 'must be a list of class names' })
    .min(2, 'must list at least two classes')
    .optional(),
  minRows: z
    .number({ error: 'must be a whole number >= 1' })
    .int('must be a whole number >= 1')
    .min(1, 'must be a whole number >= 1'),
  maxMissingFraction: fraction().default(DEFAULT_MAX_MISSING_FRACTION),
  onBadRow: z.enum(['drop', 'quarantine'], { error: 'must be "drop" or "quarantine"' }),
  maxDroppedFraction: fraction().default(DEFAULT_MAX_DROPPED_FRACTION),
});

const positiveInt = (what: string) =>
  z
    .number({ error: `must be a whole number of ${what} >= 1` })
    .int(`must be a whole number of ${what} >= 1`)
    .min(1, `must be a whole number of ${what} >= 1`);

/**
 * What a run trains on: the newest processed files within every bound given (files, rows, days).
 * @default - no window: every file the model ever received
 */
const windowSchema = z
  .strictObject({
    files: positiveInt('files').optional(),
    rows: positiveInt('rows').optional(),
    days: positiveInt('days').optional(),
  })
  .refine(
    (w) => w.files !== undefined || w.rows !== undefined || w.days !== undefined,
    'must set at least one of files, rows, days (or leave the window out)',
  );

/** Where a run's candidates train; see trainingSchema.engine. */
export const TRAINING_ENGINES = ['lambda', 'managed', 'auto'] as const;
export type TrainingEngineSetting = (typeof TRAINING_ENGINES)[number];

const trainingSchema = z.strictObject({
  window: windowSchema.optional(),
  algorithms: z
    .array(z.enum(ALGORITHMS, { error: `must be one of ${ALGORITHMS.join(', ')}` }))
    .min(1, 'must list at least one algorithm')
    .optional(),
  seed: z.number({ error: 'must be a whole number' }).int('must be a whole number').optional(),
  /**
   * Where the candidates train (core/pipeline/training-engine.ts): "lambda" (one function per
   * algorithm, 15 minutes at most), "managed" (an ECS Fargate task per algorithm), or "auto":
   * Lambda while the data fits one function, the managed task beyond.
   * @default "auto"
   */
  engine: z.enum(TRAINING_ENGINES, { error: `must be one of ${TRAINING_ENGINES.join(', ')}` }).optional(),
  selectionMetric: z.enum(METRICS, { error: `must be one of ${METRICS.join(', ')}` }),
});

const gateSchema = z.strictObject({
  metric: z.enum(METRICS, { error: `must be one of ${METRICS.join(', ')}` }),
  margin: fraction(),
  floor: fraction(),
});

/**
 * What happens to a candidate that passes the offline gate when the model has a champion:
 * "direct" moves the champion at once; {"canary": {...}} registers it as challenger and starts a
 * progressive rollout (core/registry/routing.ts RolloutPlan; unset fields take DEFAULT_ROLLOUT_PLAN).
 * A model's first version is always promoted directly (there is nothing to compare live with).
 */
const promotionSchema = z.union([z.literal('direct'), z.strictObject({ canary: rolloutPlanSchema.partial() })], {
  error:
    'must be "direct" or {"canary": {steps, bakeSeconds, minRequests, maxExtensions, alpha, maxErrorRateIncrease, maxP99Increase}}',
});

/** An EventBridge schedule expression, checked by scheduleProblem. */
const scheduleExpression = z.string({ error: 'must be a string' }).superRefine((expression, ctx) => {
  const problem = scheduleProblem(expression);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * The production data loop (core/monitoring/contract.ts): capture of served requests, the drift
 * monitoring job and drift retrains. Every field is optional; DEFAULT_MONITORING fills the rest.
 */
const monitoringSchema = z.strictObject({
  capture: z
    .strictObject({
      /** false: nothing this model serves is recorded (personal data); feedback is then refused. */
      enabled: z.boolean({ error: 'must be true or false' }).optional(),
      /** Share of requests captured (0..1). */
      sampleRate: fraction().optional(),
      /** Days captured records and feedback are kept (an S3 lifecycle rule); feedback for older ids is refused. */
      retentionDays: positiveInt('days').optional(),
    })
    .optional(),
  schedule: scheduleExpression.optional(),
  windowHours: positiveInt('hours').optional(),
  minRecords: positiveInt('records').optional(),
  driftThreshold: z
    .number({ error: 'must be a PSI above 0 (0.25 is the usual "significant" line)' })
    .gt(0, 'must be a PSI above 0 (0.25 is the usual "significant" line)')
    .optional(),
  cooldownHours: positiveInt('hours').optional(),
  retrainOnDrift: z.boolean({ error: 'must be true or false' }).optional(),
  liveAccuracyFloor: fraction().optional(),
});

const specSchema = z
  .strictObject({
    name: z.string({ error: 'must be a string' }).superRefine((name, ctx) => {
      const problem = nameProblem('model', name);
      if (problem)
        ctx.addIssue({
          code: 'custom',
          message: problem.replace(/^model name "[^"]*" is not valid: /, 'must be valid: ') + `, got "${name}"`,
        });
    }),
    data: dataSchema,
    contract: contractSchema,
    training: trainingSchema,
    gate: gateSchema,
    /** @default "direct" */
    promotion: promotionSchema.optional(),
    /** @default DEFAULT_MONITORING (core/monitoring/contract.ts) */
    monitoring: monitoringSchema.optional(),
    /**
     * The bundled dataset (training/datasets/catalog.ts) the local platform trains this model from
     * on its first start. @default - the dataset named like the model, if there is one
     */
    bundledDataset: z
      .string({ error: 'must be the name of a bundled dataset (a string)' })
      .min(1, 'must be the name of a bundled dataset')
      .optional(),
    schedule: scheduleExpression.optional(),
    /**
     * A display name per class label, for people (the try-it page, GET /models): e.g.
     * {"0": "no failure", "1": "failure"}. Predictions still answer with the labels themselves.
     * @default - every class is shown by its label
     */
    classNames: z
      .record(
        z.string().min(1, 'must name a class label (a non-empty key)'),
        z
          .string({ error: 'must be a display name (a string)' })
          .trim()
          .min(1, 'must be a non-empty display name')
          .max(64, 'must be a display name of at most 64 characters'),
        { error: 'must map class labels to display names, e.g. {"0": "no failure", "1": "failure"}' },
      )
      .optional(),
  })
  .superRefine((spec, ctx) => {
    const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const { label, columns, exclude = [], types = {} } = spec.data;
    if (exclude.includes(label)) problem(['data', 'exclude'], `must not contain the label "${label}"`);
    if (label in types) problem(['data', 'types', label], 'must not be given: the label is not a feature');
    if (columns) {
      const duplicate = columns.find((c, i) => columns.indexOf(c) !== i);
      if (duplicate) problem(['data', 'columns'], `must not repeat a name, got "${duplicate}" twice`);
      const unknown = (names: readonly string[], path: (string | number)[]) => {
        for (const name of names)
          if (!columns.includes(name))
            problem(path, `names "${name}", which is not in data.columns (${columns.join(', ')})`);
      };
      unknown([label], ['data', 'label']);
      unknown(exclude, ['data', 'exclude']);
      unknown(Object.keys(types), ['data', 'types']);
      unknown(spec.contract.requiredColumns ?? [], ['contract', 'requiredColumns']);
    }
    for (const name of spec.contract.requiredColumns ?? []) {
      if (exclude.includes(name))
        problem(['contract', 'requiredColumns'], `names "${name}", which data.exclude leaves out`);
    }
    const steps = spec.promotion !== undefined && spec.promotion !== 'direct' ? spec.promotion.canary.steps : undefined;
    if (steps?.some((w, i) => i > 0 && w <= steps[i - 1]))
      problem(
        ['promotion', 'canary', 'steps'],
        `must be ascending weights (percent of callers), got ${JSON.stringify(steps)}`,
      );
    const classes = spec.contract.labelValues ?? [];
    const repeated = classes.find((c, i) => classes.indexOf(c) !== i);
    if (repeated) problem(['contract', 'labelValues'], `must not repeat a class, got "${repeated}" twice`);
    const names = Object.entries(spec.classNames ?? {});
    if (spec.contract.labelValues)
      for (const [label] of names)
        if (!classes.includes(label))
          problem(
            ['classNames', label],
            `names a class that contract.labelValues (${classes.join(', ')}) does not list`,
          );
    const shown = names.map(([, name]) => name);
    const twice = shown.find((name, i) => shown.indexOf(name) !== i);
    if (twice) problem(['classNames'], `must give each class its own display name, got "${twice}" twice`);
  });

type ParsedSpec = z.output<typeof specSchema>;

/** A validated spec; `contract.requiredColumns` is always filled in. */
export type ModelSpec = Readonly<Omit<ParsedSpec, 'contract'>> & {
  readonly contract: Readonly<ParsedSpec['contract']> & { readonly requiredColumns: readonly string[] };
};

/** A spec that cannot be used; `problems` holds one line per field, each naming the source. */
export class ModelSpecError extends Error {
  override readonly name = 'ModelSpecError';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function formatIssue(source: string, issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  const where = path === '' ? `${source}:` : `${source}: ${path}`;
  if (issue.code === 'unrecognized_keys') {
    return `${where} has unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling)`;
  }
  if (issue.code === 'custom') return `${where} ${issue.message}`;
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return `${where} is required (it ${issue.message})`;
  return `${where} ${issue.message}, got ${describe(input)}`;
}

/** Without data.columns the only columns known up front are the label and the typed ones. */
function defaultRequiredColumns(data: ParsedSpec['data']): string[] {
  const exclude = new Set(data.exclude ?? []);
  const named = data.columns ?? [data.label, ...Object.keys(data.types ?? {})];
  return named.filter((c) => !exclude.has(c));
}

/** Validates a spec's JSON text; throws ModelSpecError listing every problem, prefixed by `source`. */
export function parseModelSpec(json: string, source: string): ModelSpec {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new ModelSpecError([`${source}: is not valid JSON (${(error as Error).message})`]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelSpecError([`${source}: must be a JSON object, got ${describe(value)}`]);
  }
  const result = specSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ModelSpecError(result.error.issues.map((issue) => formatIssue(source, issue)));
  const spec = result.data;
  return {
    ...spec,
    contract: { ...spec.contract, requiredColumns: spec.contract.requiredColumns ?? defaultRequiredColumns(spec.data) },
  };
}

/** The spec's monitoring settings with every default filled in. */
export function monitoringSettings(spec: Pick<ModelSpec, 'monitoring'>): MonitoringSettings {
  const m = spec.monitoring ?? {};
  const d = DEFAULT_MONITORING;
  return {
    capture: {
      enabled: m.capture?.enabled ?? d.capture.enabled,
      sampleRate: m.capture?.sampleRate ?? d.capture.sampleRate,
      retentionDays: m.capture?.retentionDays ?? d.capture.retentionDays,
    },
    schedule: m.schedule ?? d.schedule,
    windowHours: m.windowHours ?? d.windowHours,
    minRecords: m.minRecords ?? d.minRecords,
    driftThreshold: m.driftThreshold ?? d.driftThreshold,
    cooldownHours: m.cooldownHours ?? d.cooldownHours,
    retrainOnDrift: m.retrainOnDrift ?? d.retrainOnDrift,
    ...(m.liveAccuracyFloor === undefined ? {} : { liveAccuracyFloor: m.liveAccuracyFloor }),
  };
}
