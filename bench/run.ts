import { join } from 'node:path';
import { benchInference } from './inference';
import { describeMachine } from './machine';
import { writeSection } from './markdown';
import { BENCH_OUT, benchTraining } from './training';

/** `npm run bench`: runs every benchmark, prints a summary and rewrites docs/benchmarks.md. */
async function main(): Promise<number> {
  const doc = join(__dirname, '..', 'docs', 'benchmarks.md');
  const machine = describeMachine();
  const log = (line: string) => console.log(line);
  console.log(`machine: ${machine}`);
  const started = new Date().toISOString();
  const training = benchTraining(join(BENCH_OUT, 'training'), log);
  writeSection(doc, 'training', `_Measured ${started} on ${machine}._\n\n${training.markdown}`);

  console.log('\ninference benchmarks');
  const inferenceStarted = new Date().toISOString();
  const inference = await benchInference(join(BENCH_OUT, 'inference'), log);
  writeSection(doc, 'inference', `_Measured ${inferenceStarted} on ${machine}._\n\n${inference.markdown}`);

  console.log(`\nwrote ${doc}`);
  for (const f of [...training.failures, ...inference.failures]) console.log(`TARGET MISSED: ${f}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
