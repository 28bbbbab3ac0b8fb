import { RUNS_PREFIX } from '../contracts/buckets';
import type { ObjectStore } from '../object-store';
import type { NoNewDataRecord, RunSummary } from './contract';

/**
 * Experiment tracking: each pipeline run keeps its candidates and its record in the model bucket,
 *   runs/<model>/<runId>/candidates/<algorithm>/{model.onnx,manifest.json}
 *   runs/<model>/<runId>/summary.json     (a finished run: every candidate, champion, decision, version)
 *   runs/<model>/<runId>/failure.json     (a failed run: the error and the state it failed in)
 *   runs/<model>/<runId>/no-new-data.json (a run whose upload held only rows the model already had)
 *   runs/<model>/<runId>/data.json        (the processed/ files the run trained on, with sha256 and rows)
 *   runs/<model>/<runId>/data.csv         (those files' rows under one header: what the steps read)
 *   runs/<model>/<runId>/comparison-rows.txt (digests of the rows champion and candidate were compared on)
 */

const runsPrefix = (model: string) => `${RUNS_PREFIX}${model}/`;
const runPrefix = (model: string, runId: string) => `${runsPrefix(model)}${runId}/`;
export const candidatePrefix = (model: string, runId: string, algorithm: string) =>
  `${runPrefix(model, runId)}candidates/${algorithm}/`;
export const summaryKey = (model: string, runId: string) => `${runPrefix(model, runId)}summary.json`;
export const failureKey = (model: string, runId: string) => `${runPrefix(model, runId)}failure.json`;
export const noNewDataKey = (model: string, runId: string) => `${runPrefix(model, runId)}no-new-data.json`;
export const dataManifestKey = (model: string, runId: string) => `${runPrefix(model, runId)}data.json`;
export const snapshotKey = (model: string, runId: string) => `${runPrefix(model, runId)}data.csv`;
export const comparisonRowsKey = (model: string, runId: string) => `${runPrefix(model, runId)}comparison-rows.txt`;

export type RunRecord =
  | { readonly runId: string; readonly status: 'finished'; readonly summary: RunSummary }
  /** Ended before training: every row of its upload was already in processed/ (not a failure). */
  | { readonly runId: string; readonly status: 'no-new-data'; readonly record: NoNewDataRecord }
  | {
      readonly runId: string;
      readonly status: 'failed';
      readonly failure: {
        readonly failedAt?: string;
        readonly error?: { readonly error?: string; readonly cause?: unknown };
      };
    }
  /** Candidates written, no record yet: running, or stopped before it could record anything. */
  | { readonly runId: string; readonly status: 'incomplete' };

const decode = <T>(body: Uint8Array): T => JSON.parse(Buffer.from(body).toString('utf8')) as T;

/** When a run ended, for ordering; runs with no record yet sort last. */
function runEndedAt(run: RunRecord): string {
  if (run.status === 'finished') return run.summary.finishedAt;
  if (run.status === 'no-new-data') return run.record.finishedAt;
  if (run.status === 'failed') return run.failure.failedAt ?? '';
  return '\uffff';
}

/** Every run of a model, in the order they ended. */
export async function listRuns(store: ObjectStore, model: string): Promise<RunRecord[]> {
  const prefix = runsPrefix(model);
  const keys = await store.list(prefix);
  const runIds = [...new Set(keys.map((k) => k.slice(prefix.length).split('/')[0]).filter(Boolean))];
  const runs = await Promise.all(
    runIds.map(async (runId): Promise<RunRecord> => {
      if (keys.includes(summaryKey(model, runId))) {
        const object = await store.get(summaryKey(model, runId));
        if (object) return { runId, status: 'finished', summary: decode<RunSummary>(object.body) };
      }
      if (keys.includes(noNewDataKey(model, runId))) {
        const object = await store.get(noNewDataKey(model, runId));
        if (object) return { runId, status: 'no-new-data', record: decode<NoNewDataRecord>(object.body) };
      }
      if (keys.includes(failureKey(model, runId))) {
        const object = await store.get(failureKey(model, runId));
        if (object) return { runId, status: 'failed', failure: decode(object.body) };
      }
      return { runId, status: 'incomplete' };
    }),
  );
  return runs.sort((a, b) => (runEndedAt(a) < runEndedAt(b) ? -1 : runEndedAt(a) > runEndedAt(b) ? 1 : 0));
}
