import { spawnSync } from 'node:child_process';

export interface LintCase {
  readonly source: string;
  /** Where the snippet is taken to live, repository-relative: the config applies by path. */
  readonly file: string;
}

/** Runs the project's eslint (its flat config, ESLint's Node API) over the cases in one plain-node child: jest's module system cannot run eslint's dynamic config import. */
const SCRIPT = `
const { ESLint } = require('eslint');
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
(async () => {
  const eslint = new ESLint();
  const out = [];
  for (const c of cases) out.push((await eslint.lintText(c.source, { filePath: c.file }))[0].messages.map((m) => m.ruleId ?? 'parse-error'));
  process.stdout.write(JSON.stringify(out));
})();
`;

/** The rule ids eslint reports for each case, in order. */
export function lintRulesHit(cases: readonly LintCase[]): string[][] {
  const run = spawnSync(process.execPath, ['-e', SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`eslint failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[][];
}
