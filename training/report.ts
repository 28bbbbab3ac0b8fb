import type { TrainingRun } from './train';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4));

/** The candidates table: one row per candidate, the best marked with `*`. */
export function candidatesTable(run: TrainingRun): string {
  const metric = run.selectionMetric === 'macroF1' ? 'macro F1' : 'accuracy';
  const header = ['', 'algorithm', `val ${metric}`, 'holdout acc', 'holdout F1', 'log loss', 'ROC AUC', 'fit s', 'params'];
  const rows = run.candidates.map((c) => [
    c === run.best ? '*' : '',
    c.algorithm,
    num(c.validation[run.selectionMetric]),
    num(c.holdout.accuracy),
    num(c.holdout.macroF1),
    num(c.holdout.logLoss),
    num(c.holdout.rocAuc),
    c.fitSeconds.toFixed(2),
    Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i])).join('  ').trimEnd();
  const lines = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const s of run.skipped) lines.push(`(${s.algorithm} skipped: ${s.reason})`);
  return lines.join('\n');
}
