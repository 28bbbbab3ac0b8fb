import { toModelInputs } from '../../core/features';
import { createSession, toOrtFeeds } from '../../core/onnx-session';
import type { RawTable } from '../../core/data/load';
import { inferSchema, type MissingCategory } from '../../core/data/schema';
import { FittedEncoder } from '../../training/encoding/encoder';
import { buildOnnx, OUTPUT_PROBABILITIES } from '../../training/export';
import { toFloat32 } from '../../training/matrix';
import { FLOAT, GraphBuilder } from '../../training/onnx/graph-builder';
import { Rng } from '../../training/rng';
import { trainCandidates } from '../../training/train';
import { holdoutParity, PARITY_TOLERANCE } from '../../training/verify';
import { maxAbsDiff } from '../helpers/onnx-head';

/**
 * A categorical column whose gaps depend on the label (informative missingness), a second one
 * with random gaps, and a numeric column: under 'own' the trainer and the exported graph agree,
 * including for requests that send null.
 */
function gappyTable(rows: number, seed: number): RawTable {
  const rng = new Rng(seed);
  const data: string[][] = [];
  for (let i = 0; i < rows; i++) {
    const label = rng.next() < 0.5 ? 'yes' : 'no';
    const colour = rng.next() < (label === 'yes' ? 0.4 : 0.05) ? '?' : ['red', 'green', 'blue'][rng.int(3)];
    const shape = rng.next() < 0.2 ? '' : rng.next() < (label === 'yes' ? 0.7 : 0.3) ? 'round' : 'square';
    data.push([colour, shape, (rng.next() * 10 + (label === 'yes' ? 1 : 0)).toFixed(3), label]);
  }
  return {
    columns: ['colour', 'shape', 'weight', 'label'],
    rows: data,
    origin: data.map((_, i) => ({ file: 0, line: i + 2 })),
    sources: [{ uri: 'file:///gappy.csv', sha256: '', bytes: 0, rows }],
    format: { delimiter: ',', header: true, quoting: true },
  };
}

async function preprocessingInOnnx(
  encoder: FittedEncoder,
  inputs: ReturnType<typeof toModelInputs>,
): Promise<Float32Array> {
  const graph = new GraphBuilder();
  const out = graph.op('Identity', [encoder.toOnnx(graph)]);
  graph.output(out, FLOAT, ['N', encoder.columns.length]);
  const session = await createSession(graph.toBytes('preprocessing'));
  const result = await session.run(toOrtFeeds(inputs));
  return result[out].data as Float32Array;
}

const requests = [
  { colour: null, shape: null, weight: null },
  { colour: 'red', shape: null, weight: 3 },
  { colour: null, shape: 'round', weight: 7.5 },
  { colour: 'purple', shape: 'square', weight: 1 },
  { colour: '(missing)', shape: 'round', weight: 2 },
];

describe.each<MissingCategory>(['own', 'most-frequent'])("missingCategory '%s'", (setting) => {
  const table = gappyTable(600, 7);
  const schema = inferSchema(table, { label: 'label', missingCategory: setting });

  test('the encoder and its ONNX graph compute the same rows, for file rows and for null requests', async () => {
    const encoder = FittedEncoder.fit(
      table,
      schema,
      Array.from({ length: 600 }, (_, i) => i),
    );
    const policies = encoder.features.filter((f) => f.type === 'categorical').map((f) => f.missing.policy);
    expect(policies).toEqual(setting === 'own' ? ['category', 'category'] : ['most_frequent', 'most_frequent']);
    for (const inputs of [
      encoder.tableInputs(table, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      toModelInputs(encoder.features, requests),
    ]) {
      const expected = toFloat32(encoder.transform(inputs));
      expect(maxAbsDiff(await preprocessingInOnnx(encoder, inputs), expected)).toBeLessThan(1e-6);
    }
  });

  test('every candidate exported to ONNX matches the trainer on the holdout and on null requests', async () => {
    const run = trainCandidates(table, { label: 'label', missingCategory: setting, algorithms: ['lr', 'gbdt', 'nb'] });
    expect(run.encoder.features[0].missing.policy).toBe(setting === 'own' ? 'category' : 'most_frequent');
    for (const candidate of run.candidates) {
      const onnx = buildOnnx(run, candidate, 'gappy');
      expect(await holdoutParity(run, candidate, onnx, table)).toBeLessThan(PARITY_TOLERANCE);
      const inputs = toModelInputs(run.encoder.features, requests);
      const session = await createSession(onnx);
      const result = await session.run(toOrtFeeds(inputs));
      const trainer = candidate.model.predictProba(run.encoder.transform(inputs));
      expect(maxAbsDiff(result[OUTPUT_PROBABILITIES].data as Float32Array, trainer)).toBeLessThan(PARITY_TOLERANCE);
    }
  });
});
