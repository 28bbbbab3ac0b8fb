import { join } from 'node:path';
import { describeMachine } from './machine';
import { writeSection } from './markdown';
import { BENCH_OUT, benchTraining } from './training';

/** `npm run bench`: runs every benchmark, prints a summary and rewrites docs/benchmarks.md. */
function main(): number {
  const doc = join(__dirname, '..', 'docs', 'benchmarks.md');
  const machine = describeMachine();
  console.log(`machine: ${machine}`);
  const started = new Date().toISOString();
  const training = benchTraining(join(BENCH_OUT, 'training'), (line) => console.log(line));
  writeSection(doc, 'training', `_Measured ${started} on ${machine}._\n\n${training.markdown}`);
  console.log(`\nwrote ${doc}`);
  for (const f of training.failures) console.log(`TARGET MISSED: ${f}`);
  return 0;
}

process.exit(main());
