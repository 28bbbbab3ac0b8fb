import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainCommand, SHORT_USAGE, UsageError, USAGE } from './cli-args';
import { DataError } from '../core/data/errors';
import { loadColumns } from '../core/data/load-columns';
import { inferSchema } from '../core/data/schema';
import { dataWarnings, formatWarning } from './data/warnings';
import { exportModel } from './export';
import { candidatesTable } from './report';
import { trainCandidates } from './train';
import { holdoutParity, PARITY_TOLERANCE } from './verify';

/** `npm run train -- --data <file> --label <column> --out <dir>`: trains, compares, exports the best. */
async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const command = parseTrainCommand(argv);
  const started = performance.now();
  const log = (message: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);
  // Straight into typed columns, each row hashed for the split as it is read: no string rows.
  const table = loadColumns(command.data, { ...command.load, digestExclude: command.exclude ?? [] });
  log(`loaded ${table.rows} rows x ${table.columns.length} columns from ${command.data.length} file(s)`);
  for (const w of dataWarnings(table, inferSchema(table, command), { algorithms: command.algorithms }))
    console.error(formatWarning(w));
  const run = trainCandidates(table, {
    label: command.label,
    types: command.types,
    exclude: command.exclude,
    algorithms: command.algorithms,
    seed: command.seed,
    selectionMetric: command.metric,
    missingCategory: command.missingCategory,
    onProgress: log,
  });
  log(`features: ${run.schema.features.map((f) => `${f.name} (${f.type})`).join(', ')}`);
  for (const i of run.schema.ignored) log(`ignored column ${i.name}: ${i.reason}`);

  console.log(candidatesTable(run));
  const { onnx, manifest } = exportModel(run, run.best, command.name, table.sources);
  const gap = await holdoutParity(run, run.best, onnx, table);
  if (gap > PARITY_TOLERANCE) {
    console.error(
      `refusing to write the model: onnxruntime's probabilities differ from the trainer's by ${gap} (> ${PARITY_TOLERANCE})`,
    );
    return 1;
  }
  mkdirSync(command.out, { recursive: true });
  writeFileSync(join(command.out, 'model.onnx'), onnx);
  writeFileSync(join(command.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(
    `\nbest: ${run.best.algorithm} (holdout accuracy ${run.best.holdout.accuracy.toFixed(4)}, macro F1 ${run.best.holdout.macroF1.toFixed(4)}); ` +
      `onnxruntime matches the trainer within ${gap.toExponential(1)}\nwrote ${join(command.out, 'model.onnx')} (${onnx.length} bytes) and manifest.json`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line saying what is wrong, then how the command goes (--help has every option).
    if (error instanceof UsageError) console.error(`${error.message}\n\n${SHORT_USAGE}`);
    else if (error instanceof DataError) console.error(`data error: ${error.message}`);
    else console.error(error);
    process.exit(error instanceof UsageError || error instanceof DataError ? 2 : 1);
  },
);
