import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { type FeatureValue, toModelInputs } from '../../core/features';
import type { ModelManifest } from '../../core/manifest';
import { createSession, toOrtFeeds } from '../../core/onnx-session';
import { maxAbsDiff } from '../helpers/onnx-head';

/**
 * A model exported by scikit-learn + skl2onnx (test/fixtures/byom, see its README) runs through
 * the product's own request -> tensor mapping and gives scikit-learn's own probabilities.
 */

interface Expected {
  readonly classes: string[];
  readonly rows: Record<string, FeatureValue>[];
  readonly probabilities: number[][];
  readonly labels: string[];
}

const FIXTURE = join(__dirname, '..', 'fixtures', 'byom');
const modelBytes = readFileSync(join(FIXTURE, 'model.onnx'));
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as ModelManifest;
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

function argmaxClass(probabilities: ArrayLike<number>, row: number, k: number): string {
  let best = 0;
  for (let j = 1; j < k; j++) if (probabilities[row * k + j] > probabilities[row * k + best]) best = j;
  return manifest.classes[best];
}

describe('bring-your-own-model fixture (scikit-learn pipeline exported by skl2onnx)', () => {
  let session: InferenceSession;

  beforeAll(async () => {
    session = await createSession(modelBytes);
  });

  test('the manifest describes the file: its sha256, its one input and its outputs', () => {
    expect(createHash('sha256').update(modelBytes).digest('hex')).toBe(manifest.sha256);
    expect(session.inputNames).toEqual(manifest.inputs.map((i) => i.name));
    expect(session.outputNames).toEqual(
      expect.arrayContaining([manifest.outputs.label, manifest.outputs.probabilities]),
    );
    expect(new Set(manifest.features.map((f) => f.input))).toEqual(new Set(session.inputNames));
    expect(manifest.classes).toEqual(expected.classes);
  });

  test('numeric features sharing one input become a single float32 [N, 4] tensor in manifest order', () => {
    const inputs = toModelInputs(manifest.features, expected.rows);
    const [input] = manifest.inputs;
    expect(Object.keys(inputs)).toEqual([input.name]);
    expect(inputs[input.name].dims).toEqual([expected.rows.length, input.feature.length]);
    const firstRow = Array.from(inputs[input.name].data as Float32Array).slice(0, input.feature.length);
    const features = typeof input.feature === 'string' ? [input.feature] : input.feature;
    expect(firstRow).toEqual(features.map((name) => Math.fround(expected.rows[0][name] as number)));
  });

  test('onnxruntime probabilities equal scikit-learn predict_proba within 1e-5, including a row with a null', async () => {
    expect(expected.rows.some((row) => Object.values(row).includes(null))).toBe(true);
    const result = await session.run(toOrtFeeds(toModelInputs(manifest.features, expected.rows)));
    const probabilities = result[manifest.outputs.probabilities].data as Float32Array;
    const k = manifest.classes.length;
    expect(result[manifest.outputs.probabilities].dims).toEqual([expected.rows.length, k]);
    expect(maxAbsDiff(probabilities, expected.probabilities.flat())).toBeLessThan(1e-5);
  });

  test('labels are the classes with the highest probability, as scikit-learn predicts them', async () => {
    const result = await session.run(toOrtFeeds(toModelInputs(manifest.features, expected.rows)));
    const probabilities = result[manifest.outputs.probabilities].data as Float32Array;
    const k = manifest.classes.length;
    const argmax = expected.rows.map((_, i) => argmaxClass(probabilities, i, k));
    expect(argmax).toEqual(expected.labels);
    expect(Array.from(result[manifest.outputs.label].data as string[])).toEqual(expected.labels);
    // The rows cover more than one class, or the comparison would prove little.
    expect(new Set(expected.labels).size).toBeGreaterThan(1);
  });
});
