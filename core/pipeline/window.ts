import type { TrainingWindow } from './contract';

/** A processed file, as the window sees it: its key and when it was processed. */
export interface WindowCandidate {
  readonly key: string;
  readonly processedAt: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Row counts read at once when every file in bounds is taken (one small GET each). */
const ROWS_BATCH = 16;

/**
 * The files a run trains on: newest first, within the `files` and `days` bounds; then, if a `rows`
 * bound is set, the newest files until their rows reach it (the file that crosses it is kept whole,
 * so the window holds at least `rows` rows when the model has them). No window: every file.
 * Returns the chosen files oldest first (the order the run reads them in).
 */
export async function takeWindow<T extends WindowCandidate>(
  files: readonly T[],
  window: TrainingWindow | undefined,
  now: Date,
  rowsOf: (file: T) => Promise<number>,
): Promise<{ file: T; rows: number }[]> {
  const newestFirst = [...files].sort(
    (a, b) => b.processedAt.getTime() - a.processedAt.getTime() || (a.key < b.key ? 1 : -1),
  );
  let inBounds = newestFirst;
  if (window?.days !== undefined) {
    const since = now.getTime() - window.days * DAY_MS;
    inBounds = inBounds.filter((f) => f.processedAt.getTime() >= since);
  }
  if (window?.files !== undefined) inBounds = inBounds.slice(0, window.files);
  const chosen: { file: T; rows: number }[] = [];
  if (window?.rows === undefined) {
    // Every file in bounds is taken: read their row counts a batch at a time, not one by one.
    for (let i = 0; i < inBounds.length; i += ROWS_BATCH) {
      const batch = inBounds.slice(i, i + ROWS_BATCH);
      const counts = await Promise.all(batch.map(rowsOf));
      batch.forEach((file, j) => chosen.push({ file, rows: counts[j] }));
    }
    return chosen.reverse();
  }
  let total = 0;
  for (const file of inBounds) {
    if (total >= window.rows) break;
    const rows = await rowsOf(file);
    chosen.push({ file, rows });
    total += rows;
  }
  return chosen.reverse();
}

/** The window in words, for run summaries and the terminal. */
export function describeWindow(window: TrainingWindow | undefined): string {
  if (!window) return 'every processed file (no window)';
  const bounds = [
    window.files !== undefined ? `the newest ${window.files} file(s)` : undefined,
    window.rows !== undefined ? `the newest files holding ${window.rows} row(s)` : undefined,
    window.days !== undefined ? `files processed in the last ${window.days} day(s)` : undefined,
  ].filter((b): b is string => b !== undefined);
  return bounds.join(', within ');
}
