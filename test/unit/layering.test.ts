import { lintRulesHit } from '../helpers/lint-snippet';

/** The import direction eslint.config.mjs enforces (bin -> lib -> core; lambdas -> training -> core; local beside them). */
const importing = (specifier: string) => `import { x } from '${specifier}';\nexport const y = x;\n`;

const FORBIDDEN = [
  ['core/pipeline/x.ts', '../../training/train'],
  ['core/x.ts', '../lambdas/inference/app'],
  ['core/registry/x.ts', '../../local/endpoints'],
  ['training/x.ts', '../lambdas/pipeline/train'],
  ['lambdas/inference/x.ts', '../../local/platform'],
  ['lambdas/pipeline/x.ts', '../../lib/constructs/inference-function'],
  ['lib/constructs/x.ts', '../../local/platform'],
  ['lib/monitoring/x.ts', '../../lambdas/inference/metrics'],
] as const;

const ALLOWED = [
  ['training/x.ts', '../core/data/load'],
  ['lambdas/pipeline/x.ts', '../../training/train'],
  ['local/x.ts', '../lib/stacks/pipeline-stack'],
  ['lib/constructs/x.ts', '../../core/contracts/metrics'],
  ['lambdas/inference/x.ts', '../../core/contracts/metrics'],
  ['core/data/x.ts', './load'],
  ['core/x.ts', 'csv-parse/lib/sync'],
] as const;

test('imports run one way: each forbidden arrow is an error, each intended one is not', () => {
  const label = ([file, specifier]: readonly [string, string]) => `${file} <- ${specifier}`;
  const all = [...FORBIDDEN, ...ALLOWED];
  const hits = lintRulesHit(all.map(([file, specifier]) => ({ file, source: importing(specifier) })));
  expect(Object.fromEntries(all.map((c, i) => [label(c), hits[i]]))).toEqual({
    ...Object.fromEntries(FORBIDDEN.map((c) => [label(c), ['no-restricted-imports']])),
    ...Object.fromEntries(ALLOWED.map((c) => [label(c), []])),
  });
});
