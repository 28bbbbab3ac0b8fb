import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GENERATED_LABEL, writeGeneratedCsv } from '../../bench/generated-data';
import type { ModelManifest } from '../../core/manifest';

/**
 * `npm run train` as a user runs it, on generated machine-failure tables far past what one
 * array-spread would survive (issue 17: 300,000 rows used to end in RangeError): 1,000,000 rows
 * and 3,000,000 with logistic regression and gradient boosting (about 3 minutes on a 2-core machine).
 */

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'train-scale-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function train(
  rows: number,
  algorithms: string,
): Promise<{ manifest: ModelManifest; stdout: string; seconds: number }> {
  const data = join(scratch, `generated-${rows}.csv`);
  writeGeneratedCsv(data, rows, 17);
  const out = join(scratch, `model-${rows}`);
  const start = Date.now();
  const { stdout } = await run(
    join(ROOT, 'node_modules/.bin/tsx'),
    [
      join(ROOT, 'training/cli.ts'),
      '--data',
      data,
      '--label',
      GENERATED_LABEL,
      '--algorithms',
      algorithms,
      '--out',
      out,
    ],
    {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  rmSync(data);
  return {
    manifest: JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ModelManifest,
    stdout,
    seconds: (Date.now() - start) / 1000,
  };
}

test.each([
  [1_000_000, 'lr,gbdt'],
  [3_000_000, 'lr,gbdt'],
])('%d generated rows train with %s and export a model whose holdout scores are real', async (rows, algorithms) => {
  const { manifest, stdout, seconds } = await train(rows, algorithms);
  console.log(`npm run train, ${rows} rows, ${algorithms}: ${seconds.toFixed(0)} s`);
  expect(stdout).toMatch(/^best: /m);
  expect(manifest.candidates.map((c) => c.algorithm).sort()).toEqual(algorithms.split(',').sort());
  expect(manifest.trainingData.reduce((sum, d) => sum + d.rows, 0)).toBe(rows);
  // The generated label is learnable but noisy (docs/benchmarks.md): far above chance, far from perfect.
  expect(manifest.metrics.holdout.macroF1).toBeGreaterThan(0.55);
  expect(manifest.metrics.holdout.macroF1).toBeLessThan(0.95);
});
