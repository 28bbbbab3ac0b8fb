import type { ModelManifest } from '../manifest';
import type { ObjectStore } from '../object-store';
import { DEFAULT_ALIAS, type ModelSource } from '../registry/types';
import { asFeedbackRecord, type ReadCounts, readJsonValues } from './capture-reader';
import { captureRecordsOf } from './captured-request';
import {
  type Baseline,
  CAPTURE_ERRORS_PREFIX,
  captureDayPrefix,
  captureErrorsDayPrefix,
  type CaptureRecord,
  type FeatureDriftResult,
  feedbackDayPrefix,
  type FeedbackRecord,
  type MonitoringReport,
  monitoringReportKey,
  type MonitoringSettings,
} from './contract';
import { type FeatureDriftAccumulator, featureDriftAccumulator, PredictionDriftAccumulator, verdictOf } from './drift';
import { claimDriftRetrain, releaseDriftRetrain, type RetrainStarter } from './drift-retrain';
import { FeedbackJoin, latestLabels } from './live-accuracy';
import { pushAll } from '../arrays';
import { RetrainStartError } from './errors';

export type { RetrainStarter } from './drift-retrain';

/**
 * The monitoring job (issue 14): one run per model per tick. It reads the window's captured
 * records (capture/<model>/date=.../, and this model's among what Firehose could not partition
 * or deliver, capture-errors/<error type>/date=.../), the feedback since the window's first day, and the
 * champion's baseline; it judges every feature's drift and the predictions', joins the labels,
 * writes monitoring/<model>/<time>.json and, on drift, starts at most one retrain per cool-down.
 *
 * Records are streamed object by object into bin counts (drift.ts) and the feedback join
 * (live-accuracy.ts): memory grows with the feedback and the bins, not with the window's records.
 */

export interface MonitoringLog {
  info(message: string, attributes?: Readonly<Record<string, unknown>>): void;
  warn(message: string, attributes?: Readonly<Record<string, unknown>>): void;
}

export interface MonitoringJobDeps {
  /** The data bucket: capture/, feedback/, monitoring/, monitoring-state/. */
  readonly dataStore: ObjectStore;
  /** The registry (model bucket): the champion alias and its manifest's baseline. */
  readonly models: Pick<ModelSource, 'resolveAlias' | 'getManifest'>;
  /** The model's monitoring settings (its spec's, defaults filled in); throws for an unknown model. */
  readonly settings: (model: string) => MonitoringSettings;
  readonly retrain: RetrainStarter;
  /** @default - silent */
  readonly log?: MonitoringLog;
  /** Objects read at once. @default 8 */
  readonly readConcurrency?: number;
}

/** What a run read besides the report: objects, and records it could not use (logged, not in the report). */
export interface MonitoringReadStats {
  /** Objects read under capture/<model>/. */
  readonly captureObjects: number;
  /** Objects read under capture-errors/ (Firehose error output, every model's records; none on the local platform). */
  readonly errorOutputObjects: number;
  /**
   * This model's records in the window that came from error output rather than capture/<model>/
   * (e.g. a batch of more than 500 instances, over Firehose's de-aggregation limit); they are in
   * the report's records like the others.
   */
  readonly errorOutputRecords: number;
  readonly feedbackObjects: number;
  /** Lines that are not JSON. */
  readonly unparsable: number;
  /** JSON values that are not capture (or feedback) records, or are another model's under capture/<model>/ or feedback/<model>/ (error output holds every model's, so those are not counted). */
  readonly invalid: number;
  /** Captured records with a time outside the window. */
  readonly outsideWindow: number;
}

export interface MonitoringRun {
  readonly reportKey: string;
  /** The champion when the run read it (null: none); its baseline may be missing, so the report's baselineVersion may be null while this is not. */
  readonly championVersion: number | null;
  readonly report: MonitoringReport;
  readonly read: MonitoringReadStats;
}

const HOUR_MS = 3600_000;
/** Capture is partitioned by arrival, which follows the record's time; an hour partition ending this long before the window holds none of it. */
const PARTITION_SLACK_MS = 15 * 60_000;
const silent: MonitoringLog = { info: () => undefined, warn: () => undefined };

/** The baseline a manifest carries, when it has a usable one (manifests made before baselines have none). */
function manifestBaseline(manifest: ModelManifest): Baseline | undefined {
  const baseline = (manifest as ModelManifest & { readonly baseline?: unknown }).baseline;
  if (typeof baseline !== 'object' || baseline === null) return undefined;
  const { features, predictions, rows } = baseline as Partial<Baseline>;
  return Array.isArray(features) && typeof predictions === 'object' && predictions !== null && typeof rows === 'number'
    ? (baseline as Baseline)
    : undefined;
}

/** The UTC days [from, to) touches, as Dates at each day's midnight. */
function windowDays(from: Date, to: Date): Date[] {
  const days: Date[] = [];
  const last = new Date(Math.max(from.getTime(), to.getTime() - 1));
  for (
    let day = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    day <= last.getTime();
    day += 24 * HOUR_MS
  )
    days.push(new Date(day));
  return days;
}

/** Whether a capture object's hour partition may hold records from `from` on. */
function mayHoldWindow(key: string, from: Date): boolean {
  const match = /\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//.exec(key);
  if (!match) return true;
  const partitionEnd = Date.parse(`${match[1]}T${match[2]}:00:00.000Z`) + HOUR_MS;
  return Number.isNaN(partitionEnd) || partitionEnd + PARTITION_SLACK_MS > from.getTime();
}

/** Runs `work` over the items, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function listDays(store: ObjectStore, days: readonly Date[], prefixOf: (day: Date) => string): Promise<string[]> {
  const keys: string[] = [];
  for (const day of days) for (const key of await store.list(prefixOf(day))) keys.push(key);
  return keys;
}

/** The error-output objects of the days: every error type Firehose made a folder for (capture-errors/<type>/), then its day partitions. */
async function listErrorOutput(store: ObjectStore, days: readonly Date[]): Promise<string[]> {
  const keys: string[] = [];
  for (const errorType of await store.listPrefixes(CAPTURE_ERRORS_PREFIX))
    pushAll(keys, await listDays(store, days, (day) => captureErrorsDayPrefix(errorType, day)));
  return keys;
}

type Champion = { readonly version: number; readonly baseline?: Baseline } | undefined;

async function championOf(models: MonitoringJobDeps['models'], model: string): Promise<Champion> {
  const alias = await models.resolveAlias(model, DEFAULT_ALIAS);
  if (typeof alias !== 'object') return undefined;
  const version = alias.record.version;
  return { version, baseline: manifestBaseline(await models.getManifest(model, version)) };
}

function notJudgedReason(champion: Champion, records: number, minRecords: number): string | undefined {
  if (champion === undefined) return 'the model has no champion to compare with';
  if (champion.baseline === undefined)
    return `champion v${champion.version} has no baseline (trained before baselines were recorded)`;
  if (records < minRecords)
    return `${records} records in the window, fewer than the ${minRecords} needed (monitoring.minRecords)`;
  return undefined;
}

/** One monitoring run for `model` at `now`: reads, judges, writes the report, maybe starts a retrain. */
export async function runMonitoring(deps: MonitoringJobDeps, model: string, now: Date): Promise<MonitoringRun> {
  const settings = deps.settings(model);
  const log = deps.log ?? silent;
  const concurrency = deps.readConcurrency ?? 8;
  const from = new Date(now.getTime() - settings.windowHours * HOUR_MS);
  const counts: ReadCounts = { unparsable: 0, errorCodes: {} };
  let invalid = 0;
  let outsideWindow = 0;
  let errorOutputRecords = 0;

  const champion = await championOf(deps.models, model);
  const baseline = champion?.baseline;

  // Feedback first: it is what the join holds in memory; captured records then stream past it.
  // Every day from the window's first to today's (inclusive: a record from just before `now` may have landed in today's partition).
  const days = windowDays(from, new Date(now.getTime() + 1));
  const feedbackKeys = await listDays(deps.dataStore, days, (day) => feedbackDayPrefix(model, day));
  const feedback: FeedbackRecord[] = [];
  await forEachLimited(feedbackKeys, concurrency, async (key) => {
    const object = await deps.dataStore.get(key);
    if (!object) return;
    readJsonValues(
      object.body,
      (value) => {
        const record = asFeedbackRecord(value);
        if (record && record.model === model) feedback.push(record);
        else invalid++;
      },
      counts,
    );
  });
  const join = new FeedbackJoin(latestLabels(feedback));
  feedback.length = 0;

  const accumulators: { readonly name: string; readonly drift: FeatureDriftAccumulator }[] = (
    baseline?.features ?? []
  ).map((b) => ({ name: b.feature, drift: featureDriftAccumulator(b) }));
  const predictions = new PredictionDriftAccumulator(baseline?.predictions ?? {});
  const byVersion = new Map<number, number>();
  let records = 0;
  const fromMs = from.getTime();
  const toMs = now.getTime();
  /** Counts the record in when it is in the window; says whether it was. */
  const take = (record: CaptureRecord): boolean => {
    const time = Date.parse(record.time);
    if (time < fromMs || time >= toMs) {
      outsideWindow++;
      return false;
    }
    records++;
    byVersion.set(record.version, (byVersion.get(record.version) ?? 0) + 1);
    for (const { name, drift } of accumulators)
      drift.add(Object.hasOwn(record.features, name) ? record.features[name] : undefined);
    if (record.version === champion?.version) predictions.add(record.label);
    join.add(record);
    return true;
  };
  /** Error output holds every model's records: another model's there is expected, not invalid. */
  const readCaptures = (keys: readonly string[], errorOutput: boolean) =>
    forEachLimited(keys, concurrency, async (key) => {
      const object = await deps.dataStore.get(key);
      if (!object) return;
      readJsonValues(
        object.body,
        (value) => {
          const records = captureRecordsOf(value);
          if (records === undefined) invalid++;
          else {
            for (const record of records) {
              if (record.model === model) {
                if (take(record) && errorOutput) errorOutputRecords++;
              } else if (!errorOutput) invalid++;
            }
          }
        },
        counts,
      );
    });

  const captureKeys = (await listDays(deps.dataStore, days, (day) => captureDayPrefix(model, day))).filter((key) =>
    mayHoldWindow(key, from),
  );
  await readCaptures(captureKeys, false);
  // Same days: Firehose dates error output by arrival, as it does capture/.
  const errorOutputKeys = await listErrorOutput(deps.dataStore, days);
  await readCaptures(errorOutputKeys, true);
  const read: MonitoringReadStats = {
    captureObjects: captureKeys.length,
    errorOutputObjects: errorOutputKeys.length,
    errorOutputRecords,
    feedbackObjects: feedbackKeys.length,
    unparsable: counts.unparsable,
    invalid,
    outsideWindow,
  };
  if (counts.unparsable > 0 || invalid > 0)
    log.warn('skipped capture or feedback lines that are not records of this model', { model, ...read });
  if (errorOutputKeys.length > 0)
    log.info('read Firehose error output (capture-errors/)', {
      model,
      errorOutputRecords,
      errorCodes: counts.errorCodes,
    });

  const notJudged = notJudgedReason(champion, records, settings.minRecords);
  const judged = notJudged === undefined;
  const threshold = settings.driftThreshold;
  const features: FeatureDriftResult[] = accumulators.map(({ drift }) => drift.result(threshold, judged));
  const prediction = predictions.result();
  const drifted = features.filter((f) => f.verdict === 'drift').map((f) => f.feature);
  const reportKey = monitoringReportKey(model, now);
  const report: Omit<MonitoringReport, 'retrain'> = {
    model,
    generatedAt: now.toISOString(),
    window: { from: from.toISOString(), to: now.toISOString() },
    records,
    recordsByVersion: Object.fromEntries(
      [...byVersion].sort(([a], [b]) => a - b).map(([version, n]) => [String(version), n]),
    ),
    baselineVersion: baseline ? (champion?.version ?? null) : null,
    minRecords: settings.minRecords,
    judged,
    threshold,
    features,
    predictions: {
      test: 'psi',
      score: prediction.score,
      // The champion's own records must reach minRecords too: a handful of predictions says nothing.
      verdict: verdictOf(prediction.score, threshold, judged && predictions.count >= settings.minRecords),
      live: prediction.live,
      baseline: baseline?.predictions ?? {},
    },
    ...join.result(),
    drifted,
  };

  const write = (retrain: MonitoringReport['retrain']) => {
    const full: MonitoringReport = { ...report, retrain };
    return deps.dataStore
      .put(reportKey, JSON.stringify(full, null, 2), { contentType: 'application/json' })
      .then(() => full);
  };
  const done = async (retrain: MonitoringReport['retrain']): Promise<MonitoringRun> => {
    const full = await write(retrain);
    log.info('monitoring report written', { model, reportKey, records, judged, drifted, retrain });
    return { reportKey, championVersion: champion?.version ?? null, report: full, read };
  };

  if (!judged) return done({ started: false, reason: `not judged: ${notJudged}` });
  if (drifted.length === 0) {
    const largest = features.reduce<FeatureDriftResult | undefined>(
      (best, f) => (f.score !== null && (best?.score ?? -Infinity) < f.score ? f : best),
      undefined,
    );
    const top = largest ? ` (largest: ${largest.feature} ${(largest.score as number).toFixed(3)})` : '';
    return done({ started: false, reason: `no drift: every feature's PSI is below the threshold ${threshold}${top}` });
  }
  const list = drifted.join(', ');
  if (!settings.retrainOnDrift)
    return done({
      started: false,
      reason: `drift in ${list}, but retraining on drift is off (monitoring.retrainOnDrift)`,
    });

  const claim = await claimDriftRetrain(deps.dataStore, model, now, settings.cooldownHours, reportKey);
  if (!claim.claimed) return done({ started: false, reason: `drift in ${list}, not retraining: ${claim.reason}` });
  const execution = claim.state.execution;
  // The report exists before the run that names it starts.
  const startedReport = await write({ started: true, execution, reason: `started: drift in ${list}` });
  let started: boolean;
  try {
    ({ started } = await deps.retrain.start(model, reportKey, execution));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await releaseDriftRetrain(deps.dataStore, model, claim.etag);
    await write({
      started: false,
      execution,
      reason: `drift in ${list}, but starting ${execution} failed: ${message}`,
    });
    throw new RetrainStartError(`monitoring ${model}: starting drift retrain ${execution} failed: ${message}`, {
      cause: error,
    });
  }
  if (!started)
    return done({
      started: false,
      execution,
      reason: `drift in ${list}, but the retraining runner refused ${execution} (an execution of that name exists)`,
    });
  log.info('drift retrain started', { model, reportKey, execution, drifted });
  return { reportKey, championVersion: champion?.version ?? null, report: startedReport, read };
}
