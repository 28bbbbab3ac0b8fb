import type { ObjectStore } from '../core/object-store';
import type { NoNewDataRecord, RunSummary } from '../core/pipeline/contract';
import {
  claimKey,
  etagToken,
  failureKey,
  noNewDataKey,
  quarantineKey,
  quarantineReportKey,
  runIdFor,
  summaryKey,
} from '../lambdas/pipeline/keys';

/**
 * What became of one upload under incoming/<model>/, read through the platform's public doors
 * only, as the deployed-platform suite reads it (test/deployed/platform.integration.ts): the claim
 * validate writes names the execution that handles this object version; that execution's run
 * record (summary, no-new-data or failure) is its outcome; a quarantine report for this ETag means
 * the file was refused. Nothing here depends on the process that runs the pipeline.
 */

export interface UploadedFile {
  readonly model: string;
  /** The file's name under incoming/<model>/. */
  readonly file: string;
  /** As PutObject answered (quoted or not). */
  readonly etag: string;
  /** When the upload began: a run record older than this is an earlier upload's of the same bytes. */
  readonly uploadedAt: Date;
}

export type UploadOutcome =
  | { readonly status: 'finished'; readonly execution: string; readonly summary: RunSummary }
  | { readonly status: 'no-new-data'; readonly execution: string; readonly record: NoNewDataRecord }
  | {
      readonly status: 'failed';
      readonly execution: string;
      readonly failure: {
        readonly failedAt?: string;
        readonly error?: { readonly error?: string; readonly cause?: unknown };
      };
    }
  | {
      readonly status: 'quarantined';
      readonly key: string;
      readonly reportKey: string;
      readonly problems: readonly string[];
    }
  | { readonly status: 'timed-out'; readonly after: number; readonly execution?: string };

export interface FollowOptions {
  readonly dataStore: ObjectStore;
  readonly modelStore: ObjectStore;
  /** @default 30 minutes: a first run of the largest bundled model takes a few */
  readonly timeoutMs?: number;
  /** @default 1000 */
  readonly pollMs?: number;
  /** Called once, when the execution that handles the upload is known. */
  readonly onClaimed?: (execution: string) => void;
}

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const object = await store.get(key);
  return object && (JSON.parse(Buffer.from(object.body).toString('utf8')) as T);
}

/** A quarantine of this very object version (same ETag), under either key validate may give it. */
async function quarantined(upload: UploadedFile, store: ObjectStore): Promise<UploadOutcome | undefined> {
  for (const key of [quarantineKey(upload.model, upload.file), quarantineKey(upload.model, upload.file, upload.etag)]) {
    const reportKey = quarantineReportKey(key);
    const report = await readJson<{ source?: { etag?: string }; problems?: { message: string }[] }>(store, reportKey);
    if (report?.source?.etag !== undefined && etagToken(report.source.etag) === etagToken(upload.etag)) {
      return { status: 'quarantined', key, reportKey, problems: (report.problems ?? []).map((p) => p.message) };
    }
  }
  return undefined;
}

/** The run record of the execution, when it has one. */
async function recorded(model: string, execution: string, store: ObjectStore): Promise<UploadOutcome | undefined> {
  const runId = runIdFor(execution);
  const summary = await readJson<RunSummary>(store, summaryKey(model, runId));
  if (summary) return { status: 'finished', execution, summary };
  const record = await readJson<NoNewDataRecord>(store, noNewDataKey(model, runId));
  if (record) return { status: 'no-new-data', execution, record };
  const failure = await readJson<Extract<UploadOutcome, { status: 'failed' }>['failure']>(
    store,
    failureKey(model, runId),
  );
  return failure && { status: 'failed', execution, failure };
}

/** Polls until the upload has an outcome, or the timeout passes. */
export async function followUpload(upload: UploadedFile, options: FollowOptions): Promise<UploadOutcome> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let execution: string | undefined;
  for (;;) {
    const refused = await quarantined(upload, options.dataStore);
    if (refused) return refused;
    if (execution === undefined) {
      execution = (
        await readJson<{ execution?: string }>(options.dataStore, claimKey(upload.model, upload.file, upload.etag))
      )?.execution;
      if (execution !== undefined) options.onClaimed?.(execution);
    }
    const outcome = execution === undefined ? undefined : await recorded(upload.model, execution, options.modelStore);
    if (outcome) return outcome;
    if (Date.now() >= deadline)
      return { status: 'timed-out', after: timeoutMs, ...(execution === undefined ? {} : { execution }) };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

const when = (at: string | undefined, upload: UploadedFile) =>
  at !== undefined && at < upload.uploadedAt.toISOString()
    ? ' (an earlier run: these bytes were uploaded under this name before)'
    : '';

/** The outcome as lines to print, and the exit code: 0 the run ended as designed, 1 it failed or the file was refused. */
export function describeOutcome(
  outcome: UploadOutcome,
  upload: UploadedFile,
  dataBucket: string,
): { readonly lines: string[]; readonly exitCode: 0 | 1 } {
  switch (outcome.status) {
    case 'finished': {
      const { summary } = outcome;
      const r = summary.registration;
      const result = r.promoted
        ? `v${r.version} registered and promoted: ${upload.model}'s champion, now serving`
        : r.canary
          ? `v${r.version} registered; as a canary it serves ${r.canary.weight}% of callers (rollout ${r.canary.rolloutId}, steps ${r.canary.steps.join(' -> ')}%)`
          : `v${r.version} registered as ${r.alias}, not promoted`;
      const lines = [
        `run ${outcome.execution} finished${when(summary.finishedAt, upload)}: ${result}`,
        `gate: ${summary.decision.reason}`,
      ];
      if (r.note) lines.push(`note: ${r.note}`);
      return { lines, exitCode: 0 };
    }
    case 'no-new-data':
      // The record's message begins "no new data: ...".
      return {
        lines: [`run ${outcome.execution} ended${when(outcome.record.finishedAt, upload)}: ${outcome.record.message}`],
        exitCode: 0,
      };
    case 'failed': {
      const { error, cause } = outcome.failure.error ?? {};
      const why = [error, typeof cause === 'string' ? cause : cause === undefined ? undefined : JSON.stringify(cause)]
        .filter(Boolean)
        .join(': ')
        .slice(0, 500);
      return {
        lines: [
          `run ${outcome.execution} failed${when(outcome.failure.failedAt, upload)}: ${why || 'see its failure record'} (npm run registry -- runs ${upload.model})`,
        ],
        exitCode: 1,
      };
    }
    case 'quarantined':
      return {
        lines: [
          `refused: the file breaks ${upload.model}'s data contract and was moved to s3://${dataBucket}/${outcome.key} (report: ${outcome.reportKey})`,
          ...outcome.problems.slice(0, 5).map((p) => `  ${p}`),
        ],
        exitCode: 1,
      };
    case 'timed-out':
      return {
        lines: [
          `no outcome after ${Math.round(outcome.after / 1000)} s (${outcome.execution ? `run ${outcome.execution} is still going` : 'no run has claimed the upload: is npm start running?'}); see the npm start terminal`,
        ],
        exitCode: 1,
      };
  }
}
