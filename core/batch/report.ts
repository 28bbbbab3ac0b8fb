import { type ChunkRange, planChunks } from './chunks';
import type { BadInputCode, BatchLayout } from './layout';

export interface RefusedRow {
  /**
   * 1-based line number: within the chunk in a summary; within the file in a report, except after
   * a failed chunk (a 'partial' report), whose lines are unknown: there, within `chunk`.
   */
  readonly line: number;
  /** Set only when `line` counts from the start of this chunk (see line). */
  readonly chunk?: number;
  readonly reason: string;
}

/** The job record (job.json), written once by the start step: what every chunk scores with. */
export interface BatchJob {
  readonly job: string;
  readonly model: string;
  /** The champion's version when the job started: every chunk scores with this version. */
  readonly version: number;
  readonly source: { readonly bucket: string; readonly key: string; readonly etag: string; readonly size: number };
  readonly layout: BatchLayout;
  readonly classes: readonly string[];
  readonly chunkBytes: number;
  readonly chunks: number;
  readonly startedAt: string;
}

/** What one chunk wrote (summaries/<index>.json). */
export interface ChunkSummary {
  readonly index: number;
  readonly lines: number;
  readonly rows: number;
  readonly scored: number;
  /** Line numbers within the chunk. */
  readonly refused: readonly RefusedRow[];
  /** The results part, absent when no row of the chunk was scored. */
  readonly part?: string;
  readonly seconds: number;
}

export interface BatchReport {
  readonly job: string;
  readonly model: string;
  /**
   * 'refused': the file as a whole cannot be scored (see reason); 'failed': the job broke (see
   * reason); 'partial': some chunks failed within the tolerated failure percentage: their rows
   * (failedChunks, byte ranges of the file) were not scored, the counts are the other chunks'.
   */
  readonly status: 'succeeded' | 'refused' | 'failed' | 'partial';
  readonly version?: number;
  readonly source: { readonly bucket: string; readonly key: string; readonly etag: string };
  readonly reason?: { readonly code: BadInputCode | 'job_failed' | 'chunks_failed'; readonly message: string };
  /** 'partial': the chunks that failed, as byte ranges [start, end) of the file. */
  readonly failedChunks?: readonly ChunkRange[];
  /** 'failed': the execution that failed (it held the job's claim; another execution may take it over). */
  readonly failedExecution?: string;
  readonly rowsIn: number;
  readonly rowsScored: number;
  readonly rowsRefused: number;
  /** Every refused row, with its line number in the file (1 = the first line, header included). */
  readonly refused: readonly RefusedRow[];
  /** The result parts in input order: concatenated, they are the scored rows in input order. */
  readonly results: readonly string[];
  readonly timings: {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly seconds: number;
    /** Sum of the chunks' own scoring time (read, parse, score, write). */
    readonly chunkSeconds: number;
  };
}

/** The report of a finished job: chunk line numbers become file line numbers (prefix sums in chunk order). */
export function buildReport(job: BatchJob, summaries: readonly ChunkSummary[], finishedAt: Date): BatchReport {
  const byIndex = [...summaries].sort((a, b) => a.index - b.index);
  // A chunk with no summary failed: the Map tolerated it (ToleratedFailurePercentage), the report says so.
  const summarised = new Set(byIndex.map((s) => s.index));
  const failedChunks = planChunks(job.source.size, job.chunkBytes).filter((c) => !summarised.has(c.index));
  let linesBefore = 0;
  const refused: RefusedRow[] = [];
  for (const s of byIndex) {
    // File line numbers need every earlier chunk's line count; past a failed chunk, the chunk's own.
    const exact = failedChunks.every((c) => c.index > s.index);
    for (const r of s.refused)
      refused.push(exact ? { line: linesBefore + r.line, reason: r.reason } : { ...r, chunk: s.index });
    linesBefore += s.lines;
  }
  const sum = (f: (s: ChunkSummary) => number) => byIndex.reduce((t, s) => t + f(s), 0);
  return {
    job: job.job,
    model: job.model,
    status: failedChunks.length > 0 ? 'partial' : 'succeeded',
    version: job.version,
    source: { bucket: job.source.bucket, key: job.source.key, etag: job.source.etag },
    ...(failedChunks.length > 0
      ? {
          reason: {
            code: 'chunks_failed' as const,
            message: `${failedChunks.length} of ${job.chunks} chunks failed (within the tolerated failure percentage); their rows (bytes ${failedChunks.map((c) => `${c.start}-${c.end}`).join(', ')}) were not scored and are not counted`,
          },
          failedChunks,
        }
      : {}),
    rowsIn: sum((s) => s.rows),
    rowsScored: sum((s) => s.scored),
    rowsRefused: refused.length,
    refused,
    results: byIndex.flatMap((s) => (s.part ? [s.part] : [])),
    timings: {
      startedAt: job.startedAt,
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - Date.parse(job.startedAt)) / 1000,
      chunkSeconds: Math.round(sum((s) => s.seconds) * 1000) / 1000,
    },
  };
}
