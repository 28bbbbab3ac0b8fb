import { toOrtFeeds, createSession } from '../../core/onnx-session';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { buildOnnx, OUTPUT_LABEL, OUTPUT_PROBABILITIES } from '../../training/export';
import { argmaxRows } from '../../training/metrics';
import { trainCandidates } from '../../training/train';
import { maxAbsDiff } from '../helpers/onnx-head';

/**
 * The exported file, fed raw holdout values the way a request would send them, gives the same
 * class probabilities as the trainer's own model: for every algorithm on every bundled dataset.
 */
describe.each(Object.keys(DATASETS))('%s: every candidate exported to ONNX', (name) => {
  const spec = DATASETS[name];
  const table = loadDataset(spec);
  const run = trainCandidates(table, trainOptionsFor(spec));
  const inputs = run.encoder.tableInputs(table, run.split.holdout);

  test('trains every algorithm that applies to the data', () => {
    const trained = run.candidates.map((c) => c.algorithm).sort();
    const expected =
      spec.types && Object.values(spec.types).includes('text')
        ? ['lr', 'nb', 'svm']
        : ['gbdt', 'lr', 'nb', 'rf', 'svm'];
    expect(trained).toEqual(expected);
  });

  test.each(run.candidates.map((c) => [c.algorithm, c] as const))(
    "%s: onnxruntime probabilities equal the trainer's within 1e-5 on the holdout",
    async (_, candidate) => {
      const session = await createSession(buildOnnx(run, candidate, name));
      const result = await session.run(toOrtFeeds(inputs));
      const probabilities = result[OUTPUT_PROBABILITIES].data as Float32Array;
      expect(probabilities).toHaveLength(run.split.holdout.length * run.classes.length);
      expect(maxAbsDiff(probabilities, candidate.holdoutProbabilities)).toBeLessThan(1e-5);

      const labels = result[OUTPUT_LABEL].data as string[];
      const expectedLabels = Array.from(argmaxRows(probabilities, run.classes.length), (k) => run.classes[k]);
      expect(labels).toEqual(expectedLabels);
    },
  );
});
