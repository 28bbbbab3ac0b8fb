import type { ValidationResult, NoNewDataRecord } from '../../core/pipeline/contract';
import { PreconditionFailedError } from '../../core/object-store';
import type { StepDeps } from './deps';
import { etagToken, failureKey, noNewDataKey, runIdFor, summaryKey } from './keys';
import { MissingArtifactError } from '../../core/pipeline/errors';

/**
 * An upload's life between incoming/ and its run's outcome: who handles it (a claim per object
 * version, first writer wins, taken over from a run that failed), whether its run already ended
 * (a restart re-running it), and removing it once the run has an outcome.
 */

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** Whether `execution` of `model` ended in failure (its record-failure step wrote failure.json). */
async function runFailed(deps: StepDeps, model: string, execution: string): Promise<boolean> {
  return (await deps.modelStore.get(failureKey(model, runIdFor(execution)))) !== undefined;
}

/**
 * Creates the claim for `execution`, or returns the execution that already holds it. A claim held
 * by a run that failed is taken over (conditionally on that claim), so the same file uploaded
 * again after a failure is processed instead of being answered as a duplicate forever.
 */
export async function claim(deps: StepDeps, model: string, key: string, execution: string): Promise<string> {
  const body = json({ execution, claimedAt: deps.clock().toISOString() });
  try {
    await deps.dataStore.put(key, body, { condition: { ifNoneMatch: '*' }, contentType: 'application/json' });
    return execution;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    const existing = await deps.dataStore.get(key);
    const holder =
      existing && (JSON.parse(Buffer.from(existing.body).toString('utf8')) as { execution?: unknown }).execution;
    if (typeof holder !== 'string')
      throw new MissingArtifactError(`${key} exists but names no execution`, { cause: error });
    if (holder === execution || !existing || !(await runFailed(deps, model, holder))) return holder;
    try {
      await deps.dataStore.put(key, body, { condition: { ifMatch: existing.etag }, contentType: 'application/json' });
      return execution;
    } catch (takeover) {
      if (!(takeover instanceof PreconditionFailedError)) throw takeover;
      return claim(deps, model, key, execution);
    }
  }
}

/**
 * The answer of a run that already has its final record (a restart re-running a finished run, or a
 * retried step): a finished run stops as handled by itself, a no-new-data run answers as it did.
 */
export async function recordedOutcome(
  deps: StepDeps,
  model: string,
  execution: string,
): Promise<ValidationResult | undefined> {
  const runId = runIdFor(execution);
  const [summary, noNewData] = await Promise.all([
    deps.modelStore.get(summaryKey(model, runId)),
    deps.modelStore.get(noNewDataKey(model, runId)),
  ]);
  if (summary) return { status: 'duplicate', handledBy: execution };
  if (!noNewData) return undefined;
  const record = JSON.parse(Buffer.from(noNewData.body).toString('utf8')) as NoNewDataRecord;
  return {
    status: 'no-new-data',
    reportKey: record.reportKey,
    rowsIn: record.rowsIn,
    duplicateRows: record.duplicateRows,
    runKey: noNewDataKey(model, runId),
  };
}

/** Removes the upload once its run has an outcome, unless it was replaced by another upload meanwhile. */
export async function removeUpload(deps: StepDeps, key: string | undefined, etag: string | undefined): Promise<void> {
  if (key === undefined || etag === undefined) return;
  const current = await deps.dataStore.get(key);
  if (current && etagToken(current.etag) === etagToken(etag)) await deps.dataStore.delete(key);
}
