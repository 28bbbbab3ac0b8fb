import { KFOLD_BELOW_VALIDATION_ROWS, type TrainingRun } from './train';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4));
const count = (n: number) => n.toLocaleString('en-US');

/** One line saying how the candidates were selected, e.g. "selected by 5-fold cross-validation on 117 rows (validation part 27 rows < 1000)". */
function selectionProtocol(run: TrainingRun): string {
  const s = run.selection;
  if (s.protocol === 'k-fold') {
    return `selected by ${s.folds}-fold cross-validation on ${count(s.rows)} rows (validation part ${count(s.validationRows)} rows < ${KFOLD_BELOW_VALIDATION_ROWS})`;
  }
  return `selected on ${count(s.validationRows)} validation rows`;
}

/**
 * The candidates table: one row per candidate, the best marked with `*` (`*=` when the tie-break
 * chose it), then how the candidates were selected and, when candidates tied, which one the
 * tie-break took and why.
 */
export function candidatesTable(run: TrainingRun): string {
  const metric = run.selectionMetric === 'macroF1' ? 'macro F1' : 'accuracy';
  const kFold = run.selection.protocol === 'k-fold';
  const header = [
    '',
    'algorithm',
    `${kFold ? 'cv' : 'val'} ${metric}`,
    ...(kFold ? ['± std'] : []),
    'holdout acc',
    'holdout F1',
    'log loss',
    'ROC AUC',
    'fit s',
    'size',
    'params',
  ];
  const rows = run.candidates.map((c) => [
    c === run.best ? (run.selection.tieBreak ? '*=' : '*') : '',
    c.algorithm,
    num(c.validation[run.selectionMetric]),
    ...(kFold ? [num(c.cvStd?.[run.selectionMetric])] : []),
    num(c.holdout.accuracy),
    num(c.holdout.macroF1),
    num(c.holdout.logLoss),
    num(c.holdout.rocAuc),
    c.fitSeconds.toFixed(2),
    count(c.parameters),
    Object.entries(c.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  ]);
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]))
      .join('  ')
      .trimEnd();
  const lines = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const s of run.skipped) lines.push(`(${s.algorithm} skipped: ${s.reason})`);
  lines.push(`${selectionProtocol(run)}; size = parameters the model stores`);
  if (run.selection.tieBreak) lines.push(`*= chosen by the tie-break: ${run.selection.tieBreak}`);
  return lines.join('\n');
}
