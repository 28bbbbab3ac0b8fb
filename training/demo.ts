import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, toOrtFeeds } from '../core/onnx-session';
import { toModelInputs } from '../core/features';
import { loadTable } from './data/load';
import { DATASETS, datasetPaths } from './datasets/catalog';
import { exportModel } from './export';
import { candidatesTable } from './report';
import { trainCandidates } from './train';

/**
 * `npm start` until the local platform lands: trains every algorithm on the bundled iris data,
 * writes the best model to .local/models/iris, and serves three predictions from the exported
 * ONNX file with onnxruntime, as the inference API will.
 */
async function main(): Promise<void> {
  const spec = DATASETS.iris;
  const table = loadTable(datasetPaths(spec), spec.load);
  const run = trainCandidates(table, { label: spec.label });
  console.log(candidatesTable(run));

  const { onnx, manifest } = exportModel(run, run.best, 'iris', table.sources);
  const out = join(process.env.LOCAL_DATA_DIR ?? '.local', 'models', 'iris');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'model.onnx'), onnx);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`\nbest candidate: ${run.best.algorithm}; wrote ${out}/model.onnx and manifest.json`);

  const flowers = [
    { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
    { sepal_length: 6.0, sepal_width: 2.9, petal_length: 4.5, petal_width: 1.5 },
    { sepal_length: 6.9, sepal_width: 3.1, petal_length: 5.8, petal_width: null },
  ];
  const session = await createSession(onnx);
  const result = await session.run(toOrtFeeds(toModelInputs(manifest.features, flowers)));
  const labels = result[manifest.outputs.label].data as string[];
  const probabilities = result[manifest.outputs.probabilities].data as Float32Array;
  flowers.forEach((flower, i) => {
    const p = manifest.classes.map((c, k) => `${c} ${probabilities[i * manifest.classes.length + k].toFixed(3)}`).join(', ');
    console.log(`${JSON.stringify(flower)} -> ${labels[i]} (${p})`);
  });
  console.log('\nTrain on your own data: npm run train -- --data <file.csv> --label <column> --out <dir>');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
