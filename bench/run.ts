import '../core/sdk-node-version-warning';
import { join } from 'node:path';
import { benchHttpServing } from './http-serving';
import { benchColdStartSection, benchInference } from './inference';
import { benchLocalPlatform } from './local-platform';
import { describeMachine } from './machine';
import { writeSection } from './markdown';
import { benchMissingCategory } from './missing-category';
import { BENCH_OUT, benchTraining } from './training';
import { benchTrainingCapacity } from './training-capacity';

/**
 * `npm run bench [-- <section>...]`: runs every benchmark (or the named sections: training,
 * inference, cold-start (the inference section's cold starts alone), local-platform, http-serving, missing-category, training-capacity, rollout, capture, batch-transform), prints a summary and rewrites their sections of docs/benchmarks.md.
 */

type Bench = (
  outDir: string,
  log: (line: string) => void,
) => Promise<{ markdown: string; failures: string[] }> | { markdown: string; failures: string[] };

const BENCHES: Readonly<Record<string, Bench>> = {
  training: benchTraining,
  inference: benchInference,
  'cold-start': benchColdStartSection,
  'local-platform': benchLocalPlatform,
  'http-serving': benchHttpServing,
  'missing-category': benchMissingCategory,
  rollout: (outDir, log) => import('./rollout').then((m) => m.benchRollout(outDir, log)),
  capture: (outDir, log) => import('./capture').then((m) => m.benchCapture(outDir, log)),
  'training-capacity': benchTrainingCapacity,
  'batch-transform': (outDir, log) => import('./batch-transform').then((m) => m.benchBatchTransform(outDir, log)),
};

async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((a) => !(a in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown bench section ${unknown.join(', ')}; sections: ${Object.keys(BENCHES).join(', ')}`);
    return 2;
  }
  const sections = args.length > 0 ? args : Object.keys(BENCHES);
  const doc = join(__dirname, '..', 'docs', 'benchmarks.md');
  const machine = describeMachine();
  const log = (line: string) => console.log(line);
  console.log(`machine: ${machine}`);
  const failures: string[] = [];
  for (const section of sections) {
    console.log(`\n${section}`);
    const started = new Date().toISOString();
    const result = await BENCHES[section](join(BENCH_OUT, section), log);
    writeSection(doc, section, `_Measured ${started} on ${machine}._\n\n${result.markdown}`);
    failures.push(...result.failures);
  }
  console.log(`\nwrote ${doc}`);
  for (const f of failures) console.log(`TARGET MISSED: ${f}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
