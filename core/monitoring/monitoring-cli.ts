import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { monitoringSettings } from '../pipeline/model-spec';
import { loadModelSpecs } from '../pipeline/model-specs';
import { isValidName } from '../registry/keys';
import { S3ObjectStore } from '../s3-object-store';
import { compactTime, MONITORING_PREFIX, type MonitoringReport } from './contract';
import {
  FeedbackFileError,
  httpFeedbackPost,
  parseFeedbackCsv,
  type RefusedLine,
  uploadFeedback,
} from './feedback-upload';

/**
 * The registry CLI's production data loop commands (cli.ts parses the arguments and dispatches
 * here; what it needs from cli.ts is passed in, as for routing-cli.ts):
 *   drift <model> [--now]        the latest monitoring report as a table; --now runs the job first
 *   feedback <model> <file>      true labels from a CSV, through the inference API
 */

export const MONITORING_USAGE = `  drift <model> [--now [--api-url u]]    the latest monitoring report: drift per feature, prediction drift,
                                         live accuracy, feedback, the retrain decision; --now runs the job first
  feedback <model> <file> [--api-url u]  send true labels from a CSV with the header inferenceId,label`;

export const MONITORING_ENVIRONMENT = `DATA_BUCKET (drift); MONITORING_FUNCTION (drift --now on a deployed stack: the monitoring
function's name or ARN) or API_URL (drift --now on the local platform, npm start); API_URL or
--api-url (feedback)`;

/** parseArgs options of these commands (merged into cli.ts's). */
export const MONITORING_OPTIONS = {
  now: { type: 'boolean' },
  'api-url': { type: 'string' },
} as const;

/** Options every command takes. */
const SHARED = new Set(['json', 'help']);
const OWN: Readonly<Record<MonitoringCommand, readonly string[]>> = {
  drift: ['now', 'api-url'],
  feedback: ['api-url'],
};

export type MonitoringCommand = 'drift' | 'feedback';
export const isMonitoringCommand = (command: string | undefined): command is MonitoringCommand =>
  command === 'drift' || command === 'feedback';

type CliValues = Readonly<Record<string, string | boolean | undefined>>;
const given = (values: CliValues, option: string) => values[option] !== undefined && values[option] !== false;

/** Why --now or --api-url was given to another command (undefined when they were not). */
export function misplacedMonitoringOption(command: string, values: CliValues): string | undefined {
  const option = Object.keys(MONITORING_OPTIONS).find((o) => given(values, o));
  return (
    option &&
    `--${option} is an option of ${option === 'now' ? 'drift' : 'drift --now and feedback'}, not of ${command}`
  );
}

export interface MonitoringCliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly values: CliValues;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly table: (header: string[], rows: string[][]) => string;
  readonly usage: (message: string) => Error;
  /** The S3 client the environment asks for (cli.ts s3ClientFromEnv). */
  readonly s3Client: (env: NodeJS.ProcessEnv) => S3Client;
  /** The model specs, for a model's monitoring schedule. @default - config/models of this repository (MODEL_SPECS_DIR overrides) */
  readonly specsDir?: string;
}

/** A report as stored, or as the job returned it (with where it is stored). */
export type ShownReport = MonitoringReport & { readonly reportKey?: string };

/** A failure that is an answer, not a crash: printed as is, with its exit code. */
class CommandFailed extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** Runs `drift ...` or `feedback ...`; returns the exit code. */
export async function runMonitoringCommand(
  command: MonitoringCommand,
  args: readonly string[],
  ctx: MonitoringCliContext,
): Promise<number> {
  const foreign = Object.keys(ctx.values).find(
    (o) => given(ctx.values, o) && !SHARED.has(o) && !OWN[command].includes(o),
  );
  if (foreign) throw ctx.usage(`--${foreign} is not an option of ${command}`);
  const arg = (i: number, what: string) => {
    const value = args[i];
    if (value === undefined) throw ctx.usage(`${command} needs <${what}>`);
    return value;
  };
  const model = arg(0, 'model');
  if (!isValidName(model))
    throw ctx.usage(`<model> must be a model name (lower-case letters, digits, - or _), got "${model}"`);
  if (args.length > (command === 'drift' ? 1 : 2))
    throw ctx.usage(
      `${command} takes ${command === 'drift' ? '<model>' : '<model> <file>'}, got also "${args.slice(command === 'drift' ? 1 : 2).join(' ')}"`,
    );
  try {
    if (command === 'feedback') return await feedback(ctx, model, arg(1, 'file'));
    if (ctx.values.now) {
      const { report, where } = await runJobNow(ctx, model);
      show(ctx, report, `ran the monitoring job for ${model} now (${where})`);
      return 0;
    }
    if (given(ctx.values, 'api-url')) throw ctx.usage('--api-url goes with drift --now (where to run the job)');
    return await latest(ctx, model);
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error;
    ctx.err(error.message);
    return error.exitCode;
  }
}

function show(ctx: MonitoringCliContext, report: ShownReport, heading: string): void {
  ctx.out(ctx.values.json ? JSON.stringify(report, null, 2) : `${heading}\n\n${reportText(report, ctx.table)}`);
}

const specsDirOf = (ctx: MonitoringCliContext) =>
  ctx.specsDir ?? (ctx.env.MODEL_SPECS_DIR || join(__dirname, '..', '..', 'config', 'models'));

async function latest(ctx: MonitoringCliContext, model: string): Promise<number> {
  const bucket = ctx.env.DATA_BUCKET;
  if (!bucket)
    throw ctx.usage('DATA_BUCKET is not set: export DATA_BUCKET=<the data bucket name> (npm start: mlops-data)');
  const client = ctx.s3Client(ctx.env);
  try {
    const store = new S3ObjectStore(client, bucket);
    const prefix = `${MONITORING_PREFIX}${model}/`;
    // Keys are <compact time>.json: today's reports (a few dozen at most) are listed first.
    const today = await store.list(`${prefix}${compactTime(new Date()).slice(0, 8)}`);
    const key = (today.length > 0 ? today : await store.list(prefix)).filter((k) => k.endsWith('.json')).at(-1);
    if (key === undefined) throw new CommandFailed(noReportYet(ctx, model, bucket), 1);
    const object = await store.get(key);
    if (!object) throw new CommandFailed(`${key} was listed but is gone; run the command again`, 1);
    const report = asReport(
      parseJson(new TextDecoder().decode(object.body), `s3://${bucket}/${key}`),
      `s3://${bucket}/${key}`,
      2,
    );
    show(ctx, { ...report, reportKey: key }, `${model}: latest monitoring report s3://${bucket}/${key}`);
    return 0;
  } finally {
    client.destroy();
  }
}

/** No report: when the job runs for this model and how to run it now (or, for a model with no spec, that it is unknown). */
function noReportYet(ctx: MonitoringCliContext, model: string, bucket: string): string {
  let specs;
  try {
    specs = loadModelSpecs(specsDirOf(ctx));
  } catch {
    specs = undefined;
  }
  const spec = specs?.find((s) => s.name === model);
  if (specs && !spec)
    throw new CommandFailed(
      `unknown model "${model}": no report under s3://${bucket}/${MONITORING_PREFIX}${model}/ and no model spec (known models: ${specs.map((s) => s.name).join(', ') || 'none'})`,
      2,
    );
  const schedule = spec
    ? `on its schedule, ${monitoringSettings(spec).schedule} (monitoring.schedule in its spec)`
    : 'on its monitoring schedule';
  return [
    `no monitoring report for ${model} yet (nothing under s3://${bucket}/${MONITORING_PREFIX}${model}/).`,
    `The monitoring job runs ${schedule} and writes one per run; a first run needs the model deployed (a champion) and captured requests to judge.`,
    `To run it now: npm run registry -- drift ${model} --now`,
    '  with MONITORING_FUNCTION=<the deployed monitoring function> (the stack output), or API_URL=<the local platform, e.g. http://127.0.0.1:3000>',
  ].join('\n');
}

async function runJobNow(ctx: MonitoringCliContext, model: string): Promise<{ report: ShownReport; where: string }> {
  const functionName = ctx.env.MONITORING_FUNCTION;
  if (functionName)
    return { report: await invokeFunction(ctx.env, functionName, model), where: `function ${functionName}` };
  const apiUrl = (ctx.values['api-url'] as string | undefined) ?? ctx.env.API_URL;
  if (apiUrl) return { report: await askLocalPlatform(apiUrl, model), where: `local platform ${apiUrl}` };
  throw ctx.usage(
    'drift --now needs where the monitoring job runs: MONITORING_FUNCTION=<the deployed monitoring function name or ARN> ' +
      '(invoked with your AWS credentials), or API_URL=<the local platform, e.g. http://127.0.0.1:3000> (npm start; also --api-url)',
  );
}

function lambdaClientFromEnv(env: NodeJS.ProcessEnv): LambdaClient {
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = env;
  const credentials =
    accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, sessionToken } } : {};
  return new LambdaClient({ region: env.AWS_REGION || 'us-east-1', ...credentials });
}

async function invokeFunction(env: NodeJS.ProcessEnv, functionName: string, model: string): Promise<ShownReport> {
  const client = lambdaClientFromEnv(env);
  try {
    const answer = await client
      .send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify({ model, source: 'cli' }) }))
      .catch((error: unknown) => {
        const e = error as Error;
        throw new CommandFailed(`cannot invoke the monitoring function ${functionName}: ${e.name}: ${e.message}`, 1);
      });
    const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
    if (answer.FunctionError) {
      const failure = tryJson(text) as { errorType?: string; errorMessage?: string } | undefined;
      const why = failure?.errorMessage
        ? `${failure.errorType ?? 'Error'}: ${failure.errorMessage}`
        : text || '(no details)';
      throw new CommandFailed(`the monitoring function ${functionName} failed (${answer.FunctionError}): ${why}`, 1);
    }
    return asReport(parseJson(text, `the monitoring function's answer`), `the monitoring function's answer`, 1);
  } finally {
    client.destroy();
  }
}

async function askLocalPlatform(apiUrl: string, model: string): Promise<ShownReport> {
  const url = `${apiUrl.replace(/\/+$/, '')}/_local/monitoring/${encodeURIComponent(model)}`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST' });
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    throw new CommandFailed(
      `cannot reach the local platform at ${url} (${cause?.code ?? (error as Error).message}): is npm start running, and API_URL its API?`,
      1,
    );
  }
  const text = await response.text();
  if (response.ok) return asReport(parseJson(text, url), url, 1);
  const message =
    (tryJson(text) as { error?: { message?: string } } | undefined)?.error?.message ?? (text || response.statusText);
  throw new CommandFailed(
    `the local platform did not run the job: ${response.status}: ${message}`,
    response.status === 404 ? 2 : 1,
  );
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseJson(text: string, source: string): unknown {
  const value = tryJson(text);
  if (value === undefined) throw new CommandFailed(`${source} is not JSON: ${text.slice(0, 200)}`, 2);
  return value;
}

/** The parts of a report the table reads, checked, so a foreign object fails with its name rather than a TypeError. */
function asReport(value: unknown, source: string, exitCode: 1 | 2): ShownReport {
  const r = value as Partial<MonitoringReport> | null;
  const ok =
    typeof r === 'object' &&
    r !== null &&
    typeof r.model === 'string' &&
    typeof r.generatedAt === 'string' &&
    typeof r.window?.from === 'string' &&
    typeof r.records === 'number' &&
    Array.isArray(r.features) &&
    typeof r.predictions === 'object' &&
    typeof r.feedback === 'object' &&
    Array.isArray(r.liveAccuracy) &&
    typeof r.retrain?.reason === 'string' &&
    typeof r.threshold === 'number';
  if (!ok)
    throw new CommandFailed(`${source} is not a monitoring report: ${JSON.stringify(value).slice(0, 200)}`, exitCode);
  return r as ShownReport;
}

const score = (v: number | null) => (v === null ? '-' : v.toFixed(4));
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const distribution = (counts: Readonly<Record<string, number>>) => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return (
    Object.entries(counts)
      .map(([label, n]) => `${label} ${total > 0 ? percent(n / total) : '-'}`)
      .join(', ') || '-'
  );
};

/** The report as the CLI prints it: drift per feature, then predictions, live accuracy, feedback, records, window, retrain. */
function reportText(report: ShownReport, table: (header: string[], rows: string[][]) => string): string {
  const rows = report.features.map((f) => {
    const shares = [
      f.outOfRangeShare === undefined ? '' : `${percent(f.outOfRangeShare)} out of range`,
      f.unseenShare === undefined ? '' : `${percent(f.unseenShare)} unseen`,
    ];
    if (f.chiSquare)
      shares.push(
        `chi² ${f.chiSquare.statistic.toFixed(1)} (df ${f.chiSquare.degreesOfFreedom}, p ${f.chiSquare.pValue.toPrecision(2)})`,
      );
    return [
      f.feature,
      f.type,
      f.test,
      score(f.score),
      String(f.threshold),
      f.verdict,
      shares.filter(Boolean).join('; ') || '-',
      percent(f.missingShare),
    ];
  });
  const features =
    rows.length === 0
      ? '(no features judged)'
      : table(['feature', 'type', 'test', 'score', 'threshold', 'verdict', 'out of range / unseen', 'missing'], rows);
  const p = report.predictions;
  const champion = report.baselineVersion === null ? 'the champion' : `champion v${report.baselineVersion}`;
  const accuracy =
    report.liveAccuracy.length === 0
      ? '(no feedback label matched a captured record of the window)'
      : table(
          ['version', 'labelled', 'accuracy', 'macro F1'],
          report.liveAccuracy.map((a) => [`v${a.version}`, String(a.labelled), score(a.accuracy), score(a.macroF1)]),
        );
  const byVersion = Object.entries(report.recordsByVersion ?? {})
    .map(([v, n]) => `v${v}: ${n}`)
    .join(', ');
  const judged = report.judged
    ? `judged against ${champion}'s training baseline (at least ${report.minRecords} needed)`
    : report.baselineVersion === null
      ? 'not judged: no champion with a training baseline to compare with'
      : `not judged: fewer than the ${report.minRecords} needed`;
  const lines = [
    features,
    '',
    `prediction drift (${champion}'s predicted labels vs its holdout's): ${p.test} ${score(p.score)}, threshold ${report.threshold}, ${p.verdict}`,
    `  live: ${distribution(p.live)}`,
    `  holdout: ${distribution(p.baseline)}`,
    '',
    'live accuracy (feedback labels joined by inference id):',
    accuracy,
    '',
    `feedback: ${report.feedback.received} labels read, ${report.feedback.matched} matched a captured record of the window, ${report.feedback.unmatched} unmatched`,
    `records: ${report.records} captured in the window${byVersion ? ` (${byVersion})` : ''}; ${judged}`,
    `window: ${report.window.from} to ${report.window.to} (report generated ${report.generatedAt})`,
    `retrain: ${report.retrain.reason}${report.retrain.execution ? ` (execution ${report.retrain.execution})` : ''}`,
  ];
  if (report.reportKey) lines.push(`stored as: ${report.reportKey}`);
  return lines.join('\n');
}

async function feedback(ctx: MonitoringCliContext, model: string, file: string): Promise<number> {
  const apiUrl = (ctx.values['api-url'] as string | undefined) ?? ctx.env.API_URL;
  if (!apiUrl)
    throw ctx.usage(
      "feedback needs the inference API: --api-url <url> or API_URL=<url> (the stack's ApiUrl output; npm start: http://127.0.0.1:3000)",
    );
  if (!URL.canParse(apiUrl)) throw ctx.usage(`the API URL must be a URL like http://127.0.0.1:3000, got "${apiUrl}"`);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new CommandFailed(`cannot read ${file}: ${(error as Error).message}`, 2);
  });
  let parsed;
  try {
    parsed = parseFeedbackCsv(text, file);
  } catch (error) {
    if (error instanceof FeedbackFileError) throw new CommandFailed(error.message, 2);
    throw error;
  }
  const report = (r: RefusedLine) =>
    ctx.err(`${file}:${r.line}: refused${r.column ? ` (${r.column})` : ''}: ${r.message}`);
  if (!ctx.values.json) parsed.refused.forEach(report);
  const result = await uploadFeedback(parsed.lines, httpFeedbackPost(apiUrl, model), {
    onRefused: ctx.values.json ? undefined : report,
  });
  const refused = [...parsed.refused, ...result.refused].sort((a, b) => a.line - b.line);
  const summary = `${result.accepted} labels accepted, ${refused.length} refused${result.notSent > 0 ? `, ${result.notSent} not sent` : ''}`;
  if (ctx.values.json)
    ctx.out(
      JSON.stringify(
        { model, accepted: result.accepted, refused, notSent: result.notSent, stopped: result.stopped ?? null },
        null,
        2,
      ),
    );
  else ctx.out(summary);
  if (result.stopped) ctx.err(`stopped: ${result.stopped}`);
  return refused.length > 0 || result.notSent > 0 ? 1 : 0;
}
