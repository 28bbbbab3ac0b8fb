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
 * with every algorithm, as `npm run train` picks them (the forest kept to its node budget), and
 * 3,000,000 with logistic regression and gradient boosting (about 5 minutes on a 2-core machine).
 */

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'train-scale-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `all` runs without --algorithms: every algorithm that applies, the default. */
async function train(
  rows: number,
  algorithms: string,
): Promise<{ manifest: ModelManifest; stdout: string; stderr: string; seconds: number }> {
  const data = join(scratch, `generated-${rows}.csv`);
  writeGeneratedCsv(data, rows, 17);
  const out = join(scratch, `model-${rows}`);
  const start = Date.now();
  const { stdout, stderr } = await run(
    join(ROOT, 'node_modules/.bin/tsx'),
    [
      join(ROOT, 'training/cli.ts'),
      '--data',
      data,
      '--label',
      GENERATED_LABEL,
      ...(algorithms === 'all' ? [] : ['--algorithms', algorithms]),
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
    stderr,
    seconds: (Date.now() - start) / 1000,
  };
}

const ALL = ['gbdt', 'lr', 'nb', 'rf', 'svm'];

function expectRealModel(manifest: ModelManifest, stdout: string, rows: number): void {
  expect(stdout).toMatch(/^best: /m);
  expect(manifest.trainingData.reduce((sum, d) => sum + d.rows, 0)).toBe(rows);
  // The generated label is learnable but noisy (docs/benchmarks.md): far above chance, far from perfect.
  expect(manifest.metrics.holdout.macroF1).toBeGreaterThan(0.55);
  expect(manifest.metrics.holdout.macroF1).toBeLessThan(0.95);
}

test('1,000,000 generated rows train with every algorithm, the forest kept to its node budget', async () => {
  const { manifest, stdout, stderr, seconds } = await train(1_000_000, 'all');
  console.log(`npm run train, 1000000 rows, all algorithms: ${seconds.toFixed(0)} s`);
  expect(manifest.candidates.map((c) => c.algorithm).sort()).toEqual(ALL);
  expectRealModel(manifest, stdout, 1_000_000);
  // Fully grown, the forest would need gigabytes in onnxruntime: it is cut to the budget and says so
  // (progress goes to stderr; the results table on stdout shows the parameters).
  expect(stderr).toMatch(/rf: 100 trees like the first .* would pass the forest budget of 1,000,000 nodes/);
  const rf = manifest.candidates.find((c) => c.algorithm === 'rf');
  expect(rf?.params).toMatchObject({ maxNodes: 10_000, maxDepth: expect.any(Number) });
  expect(stdout).toMatch(/^ +rf .* maxDepth=\d+ maxNodes=10000$/m);
});

test('3,000,000 generated rows train with lr,gbdt and export a model whose holdout scores are real', async () => {
  const { manifest, stdout, seconds } = await train(3_000_000, 'lr,gbdt');
  console.log(`npm run train, 3000000 rows, lr,gbdt: ${seconds.toFixed(0)} s`);
  expect(manifest.candidates.map((c) => c.algorithm).sort()).toEqual(['gbdt', 'lr']);
  expectRealModel(manifest, stdout, 3_000_000);
});
