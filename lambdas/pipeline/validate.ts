import {
  checkDataFile,
  type ContractReport,
  type Problem,
  type ProblemKind,
  toCsv,
} from '../../core/pipeline/data-contract';
import type { ExecutionInput, NoNewDataRecord, ValidationResult } from '../../core/pipeline/contract';
import { deduplicate, RowIdentitySet } from '../../core/pipeline/row-index';
import { contentColumns, rowDigests } from '../../training/split';
import { sha256Hex as sha256 } from '../../core/hash';
import { inBatches } from './batches';
import { claim, recordedOutcome, removeUpload } from './upload-lifecycle';
import { specFor, type StepDeps } from './deps';
import { NO_METRICS, PIPELINE_METRICS } from './metrics';
import { PreconditionFailedError } from '../../core/object-store';
import {
  claimKey,
  findProcessedKey,
  findDataLessReportKeys,
  isProcessedData,
  noNewDataKey,
  parseIncomingKey,
  processedKey,
  processedPrefix,
  processedReportKey,
  processedRowsKey,
  quarantineKey,
  quarantineReportKey,
  runIdFor,
} from './keys';
import { MissingArtifactError, PipelineInputError } from '../../core/pipeline/errors';

/** The report stored next to a processed or quarantined file: the contract report plus where it came from. */
export interface StoredReport extends ContractReport {
  /** `execution`: the run that made this copy, so another run for the same object knows it is a duplicate. */
  readonly source: { readonly key: string; readonly etag: string; readonly execution?: string };
  /**
   * Clean files only: rows written to processed/ (`rowsOut` minus duplicates); rows already in the
   * model's processed data; rows repeating an earlier row of this file. Absent in older reports.
   */
  readonly rowsKept?: number;
  readonly duplicatesOfProcessed?: number;
  readonly duplicatesWithinFile?: number;
}

const problemsOf = (report: ContractReport) => report.problems.map((p) => p.message);

function parseReport(body: Uint8Array, key: string): StoredReport {
  try {
    return JSON.parse(Buffer.from(body).toString('utf8')) as StoredReport;
  } catch (error) {
    throw new MissingArtifactError(`${key} is not a readable report (${(error as Error).message})`, { cause: error });
  }
}

/** Another execution made this copy: the object was already handled (a redelivered event). */
function handledByOther(report: StoredReport | undefined, execution: string): ValidationResult | undefined {
  const handledBy = report?.source?.execution;
  return handledBy !== undefined && handledBy !== execution ? { status: 'duplicate', handledBy } : undefined;
}

/** The result for a processed copy already written (a redelivered event, or a retry after a partial failure). */
async function processedResult(
  deps: StepDeps,
  key: string,
  execution: string,
  owner?: string,
): Promise<ValidationResult> {
  const reportKey = processedReportKey(key);
  const [data, reportObject] = await Promise.all([deps.dataStore.get(key), deps.dataStore.get(reportKey)]);
  if (!data) throw new MissingArtifactError(`processed copy ${key} disappeared while validating`);
  // The report is written before the data, so it is there whenever the data is.
  const report = reportObject && parseReport(reportObject.body, reportKey);
  // A copy made by a failed run whose claim this execution took over is this execution's now.
  const madeBy = owner === execution ? undefined : report;
  return (
    handledByOther(madeBy, execution) ?? {
      status: 'clean',
      processedKey: key,
      reportKey,
      dataSha256: sha256(data.body),
      rows: report?.rowsKept ?? report?.rowsOut ?? 0,
      duplicateRows: duplicateRows(report),
    }
  );
}

const duplicateRows = (report: StoredReport | undefined) =>
  (report?.duplicatesOfProcessed ?? 0) + (report?.duplicatesWithinFile ?? 0);

/**
 * The report of an earlier run on this upload that found no new row. A report without data that
 * says rows were kept is what a stop between writing the report and the data leaves: not an answer.
 */
async function noNewDataReport(
  deps: StepDeps,
  reportKeys: readonly string[],
): Promise<{ key: string; report: StoredReport } | undefined> {
  for (const key of reportKeys) {
    const report = await readStoredReport(deps, key);
    if (report?.rowsKept === 0) return { key, report };
  }
  return undefined;
}

/** An upload already found to hold no new row (a retry of the run that found it): answer as it did. */
function noNewDataResult(
  { key: reportKey, report }: { key: string; report: StoredReport },
  model: string,
  execution: string,
): ValidationResult {
  return (
    handledByOther(report, execution) ?? {
      status: 'no-new-data',
      reportKey,
      rowsIn: report.rowsOut,
      duplicateRows: duplicateRows(report),
      runKey: noNewDataKey(model, runIdFor(execution)),
    }
  );
}

/** The identities of every row the model already has: the sidecars of its processed files. */
async function processedIdentities(deps: StepDeps, keys: readonly string[]): Promise<RowIdentitySet> {
  const data = new Set(keys.filter(isProcessedData));
  const sidecars = keys.filter((k) => k.endsWith('.rows') && data.has(k.replace(/\.rows$/, '.csv')));
  const sets = await inBatches(sidecars, 32, async (key) => {
    const object = await deps.dataStore.get(key);
    return object ? RowIdentitySet.decode(object.body, key) : RowIdentitySet.empty();
  });
  return RowIdentitySet.union(sets);
}

async function readStoredReport(deps: StepDeps, key: string): Promise<StoredReport | undefined> {
  const object = await deps.dataStore.get(key);
  return object && parseReport(object.body, key);
}

/** A quarantine of this very upload (same etag), if one was already made, under either key it may have. */
async function quarantinedResult(
  deps: StepDeps,
  model: string,
  file: string,
  etag: string,
  execution: string,
): Promise<ValidationResult | undefined> {
  for (const key of [quarantineKey(model, file), quarantineKey(model, file, etag)]) {
    const reportKey = quarantineReportKey(key);
    const report = await readStoredReport(deps, reportKey);
    if (report?.source?.etag === etag && (await deps.dataStore.get(key))) {
      return (
        handledByOther(report, execution) ?? {
          status: 'quarantined',
          quarantineKey: key,
          reportKey,
          problems: problemsOf(report),
        }
      );
    }
  }
  return undefined;
}

/** quarantine/<model>/<file>, unless an earlier, different upload of that name is kept there (then the etag is added). */
async function freeQuarantineKey(deps: StepDeps, model: string, file: string, etag: string): Promise<string> {
  const key = quarantineKey(model, file);
  const earlier = await readStoredReport(deps, quarantineReportKey(key));
  const taken = earlier ? earlier.source?.etag !== etag : (await deps.dataStore.get(key)) !== undefined;
  return taken ? quarantineKey(model, file, etag) : key;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/**
 * Checks incoming/<model>/<file> against the model's data contract. Clean: writes the processed
 * copy (report first, then data) and only then deletes the original. Bad: copies the original
 * bytes to quarantine/ with the report, then deletes it. Nothing is deleted before its copy
 * exists. A re-run by the same execution (a retry) returns the same result without a second copy;
 * another execution for the same object version (S3 delivered the event twice) gets 'duplicate'
 * and the state machine stops there, so one object version retrains once.
 */
export async function validate(input: ExecutionInput, deps: StepDeps): Promise<ValidationResult> {
  if (input.key === undefined || input.key === '') {
    // A schedule (or on-demand run) before the model's first upload has nothing to train on:
    // that is not a failure, and must not page anyone.
    const data = (await deps.dataStore.list(processedPrefix(input.model))).filter(isProcessedData);
    return data.length === 0 ? { status: 'no-data' } : { status: 'skipped' };
  }
  // A "Create folder" in the S3 console writes a zero-byte key ending in "/": not data, nothing to do.
  if (input.key.endsWith('/')) return { status: 'ignored', reason: `${input.key} is a folder marker, not a data file` };
  if (input.bucket !== undefined && deps.dataBucket !== undefined && input.bucket !== deps.dataBucket) {
    throw new PipelineInputError(
      `the upload is in bucket "${input.bucket}", but this pipeline reads the data bucket "${deps.dataBucket}"`,
    );
  }
  if (!input.key.startsWith('incoming/'))
    throw new PipelineInputError(`key "${input.key}" is not an upload: it must be incoming/<model>/<file>`);
  const parsed = parseIncomingKey(input.key);
  if (!parsed) {
    // incoming/<file> (no model folder): kept in quarantine with the reason, once, instead of failing on every retry.
    const file = input.key.replace(/^incoming\//, '');
    return refuseUpload(
      deps,
      input,
      UNSORTED_MODEL,
      file,
      'misplaced_key',
      `${input.key} is not under a model's folder: upload to incoming/<model>/${file}`,
    );
  }
  const { model, file } = parsed;
  if (model !== input.model)
    throw new PipelineInputError(
      `key "${input.key}" belongs to model "${model}", but the execution is for model "${input.model}"`,
    );
  if (!deps.specs.has(model)) {
    const known = [...deps.specs.keys()].sort().join(', ') || 'none';
    return refuseUpload(
      deps,
      input,
      model,
      file,
      'unknown_model',
      `there is no model spec for "${model}" (known models: ${known}); add config/models/${model}.json and upload again`,
    );
  }
  const spec = specFor(deps, model);

  const object = await deps.dataStore.get(input.key);
  const etag = object?.etag ?? input.etag;
  if (etag === undefined)
    throw new MissingArtifactError(`${input.key} does not exist and the event has no etag to find what became of it`);
  const processedKeys = await deps.dataStore.list(processedPrefix(model));
  const existing = findProcessedKey(processedKeys, model, file, etag);
  const existingReport = existing
    ? undefined
    : await noNewDataReport(deps, findDataLessReportKeys(processedKeys, model, file, etag));

  // One execution per object version: the first to create the claim handles it. S3 (and the local
  // server) refuse a second If-None-Match:* write, so concurrent deliveries cannot both retrain.
  const owner = await claim(deps, model, claimKey(model, file, etag), input.execution);
  if (owner !== input.execution) return { status: 'duplicate', handledBy: owner };
  // A restart re-running a run that had finished (stopped before the upload was removed).
  const recorded = await recordedOutcome(deps, model, input.execution);
  if (recorded) {
    await removeUpload(deps, input.key, etag);
    return recorded;
  }

  if (!object) {
    // Already handled by an earlier delivery of the same event: answer as it did.
    if (existing) return processedResult(deps, existing, input.execution);
    if (existingReport) return noNewDataResult(existingReport, model, input.execution);
    const quarantined = await quarantinedResult(deps, model, file, etag, input.execution);
    if (quarantined) return quarantined;
    throw new MissingArtifactError(
      `${input.key} (etag ${etag}) does not exist and was neither processed nor quarantined`,
    );
  }
  // If the object was replaced after the event, this run validates what is there now (by its own etag).

  if (existing) {
    // A retry, or a restart, after the copy was written: the upload stays until the run ends.
    return processedResult(deps, existing, input.execution, owner);
  }
  if (existingReport) {
    const result = noNewDataResult(existingReport, model, input.execution);
    await deps.dataStore.delete(input.key);
    return result;
  }

  const now = deps.clock();
  const checked = checkDataFile(object.body, file, spec, { now });
  const source = { key: input.key, etag: object.etag, execution: input.execution };
  if (checked.status === 'clean') {
    // Rows the model already has (an upload of the same content under another name, overlapping
    // exports) would count twice in training and inflate scores: only new rows are kept.
    const digests = rowDigests(checked.columns, checked.rows, {
      columns: contentColumns(checked.columns, spec.data.exclude),
    });
    const fresh = deduplicate(checked.rows, digests, await processedIdentities(deps, processedKeys));
    const key = processedKey(model, file, object.etag, now);
    const reportKey = processedReportKey(key);
    const report: StoredReport = {
      ...checked.report,
      source,
      rowsKept: fresh.kept.length,
      duplicatesOfProcessed: fresh.duplicatesOfProcessed,
      duplicatesWithinFile: fresh.duplicatesWithinFile,
    };
    await deps.dataStore.put(reportKey, json(report), { contentType: 'application/json' });
    if (fresh.kept.length === 0) {
      await deps.dataStore.delete(input.key);
      return recordNoNewData(deps, input, reportKey, report);
    }
    // The sidecar before the data: whenever the data is listed, its rows' identities are there too.
    await deps.dataStore.put(processedRowsKey(key), fresh.keptIdentities.encode(), {
      contentType: 'application/octet-stream',
    });
    const csv = toCsv(checked.columns, fresh.kept);
    await deps.dataStore.put(key, csv, { contentType: 'text/csv' });
    // The upload stays in incoming/ until the run has an outcome (Register, or the failure path
    // removes it): a stop in between leaves it there for the next start to finish the run.
    return {
      status: 'clean',
      processedKey: key,
      reportKey,
      dataSha256: sha256(csv),
      rows: fresh.kept.length,
      duplicateRows: duplicateRows(report),
    };
  }
  return quarantine(deps, input.key, model, file, object, { ...checked.report, source });
}

/** Uploads with no spec or no model folder go to quarantine/<this>/ (not a valid model name, so never a model's). */
const UNSORTED_MODEL = '_unsorted';

/**
 * Moves the original to quarantine/ with its report (copy first, then delete), counts it, and
 * answers 'quarantined'. The upload leaves incoming/, so a restart does not try it again.
 */
async function quarantine(
  deps: StepDeps,
  uploadKey: string,
  model: string,
  file: string,
  object: { readonly body: Uint8Array; readonly etag: string },
  report: Pick<StoredReport, 'problems' | 'source'> & Record<string, unknown>,
): Promise<ValidationResult> {
  const key = await freeQuarantineKey(deps, model, file, object.etag);
  const reportKey = quarantineReportKey(key);
  await deps.dataStore.put(key, object.body);
  await deps.dataStore.put(reportKey, json(report), { contentType: 'application/json' });
  await deps.dataStore.delete(uploadKey);
  (deps.recorder ?? NO_METRICS).record({
    name: PIPELINE_METRICS.quarantinedFiles,
    unit: 'Count',
    value: 1,
    dimensions: { model },
  });
  return { status: 'quarantined', quarantineKey: key, reportKey, problems: report.problems.map((p) => p.message) };
}

/**
 * An upload the pipeline cannot handle at all (no spec for its model, no model folder): quarantined
 * with a report naming the reason, under the same one-execution-per-object claim as any upload, so
 * a redelivered event or a restart answers from the quarantine instead of failing again.
 */
async function refuseUpload(
  deps: StepDeps,
  input: ExecutionInput,
  model: string,
  file: string,
  kind: ProblemKind,
  message: string,
): Promise<ValidationResult> {
  const key = input.key as string;
  const object = await deps.dataStore.get(key);
  const etag = object?.etag ?? input.etag;
  if (etag === undefined)
    throw new MissingArtifactError(`${key} does not exist and the event has no etag to find what became of it`);
  const owner = await claim(deps, model, claimKey(model, file, etag), input.execution);
  if (owner !== input.execution) return { status: 'duplicate', handledBy: owner };
  if (!object) {
    const quarantined = await quarantinedResult(deps, model, file, etag, input.execution);
    if (quarantined) return quarantined;
    throw new MissingArtifactError(`${key} (etag ${etag}) does not exist and was not quarantined`);
  }
  const problems: Problem[] = [{ kind, message }];
  return quarantine(deps, key, model, file, object, {
    file,
    checkedAt: deps.clock().toISOString(),
    status: 'quarantine',
    rowsIn: 0,
    rowsOut: 0,
    problems,
    source: { key, etag: object.etag, execution: input.execution },
  });
}

/**
 * Ends the run for an upload with no new row: a record under runs/ (so `registry runs` lists it)
 * and a run metric with outcome "no-new-data". Not a failure: nothing is quarantined, nobody is paged.
 */
async function recordNoNewData(
  deps: StepDeps,
  input: ExecutionInput,
  reportKey: string,
  report: StoredReport,
): Promise<ValidationResult> {
  const runKey = noNewDataKey(input.model, runIdFor(input.execution));
  const duplicates = duplicateRows(report);
  const record: NoNewDataRecord = {
    model: input.model,
    execution: input.execution,
    runId: runIdFor(input.execution),
    trigger: input.trigger,
    finishedAt: deps.clock().toISOString(),
    upload: input.key ?? '',
    reportKey,
    rowsIn: report.rowsOut,
    duplicateRows: duplicates,
    message: `no new data: all ${report.rowsOut} clean row(s) of ${input.key} are already in processed/${input.model}/; nothing was trained`,
  };
  try {
    // Written once: a retried step keeps the first record.
    await deps.modelStore.put(runKey, json(record), {
      contentType: 'application/json',
      condition: { ifNoneMatch: '*' },
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  (deps.recorder ?? NO_METRICS).record({
    name: PIPELINE_METRICS.runs,
    unit: 'Count',
    value: 1,
    dimensions: { model: input.model, outcome: 'no-new-data' },
  });
  return { status: 'no-new-data', reportKey, rowsIn: report.rowsOut, duplicateRows: duplicates, runKey };
}
