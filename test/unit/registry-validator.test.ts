import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ManifestFeature } from '../../core/manifest';
import { predictionProblems, signatureProblems, smokeValue } from '../../core/registry/onnx-validator';
import { decodeManifest } from '../../core/registry/records';

// A real manifest (scikit-learn model, one shared [N, 4] input); see test/fixtures/byom.
const manifest = decodeManifest(
  readFileSync(join(__dirname, '..', 'fixtures', 'byom', 'manifest.json')),
  'byom manifest',
);
const probabilities = (...p: number[]) => new ort.Tensor('float32', Float32Array.from(p), [1, p.length]);
const labels = (...l: string[]) => new ort.Tensor('string', l, [l.length]);

describe('ONNX model validation rules', () => {
  it('accepts one row of probabilities summing to 1 and a label among the classes', () => {
    expect(predictionProblems(manifest, probabilities(0.2, 0.3, 0.5), labels('Iris-virginica'))).toEqual([]);
  });

  it('accepts int64 labels of numeric classes', () => {
    const numeric = { ...manifest, classes: ['0', '1'] };
    expect(
      predictionProblems(numeric, probabilities(0.4, 0.6), new ort.Tensor('int64', BigInt64Array.from([1n]), [1])),
    ).toEqual([]);
  });

  it('names each problem with the prediction', () => {
    expect(predictionProblems(manifest, probabilities(0.2, 0.3), labels('Iris-setosa'))).toEqual([
      expect.stringMatching(/shape \[1,2\], expected \[1,3\]/),
      expect.stringMatching(/do not sum to 1/),
    ]);
    expect(predictionProblems(manifest, probabilities(0.2, 0.3, 0.5), labels('rose'))).toEqual([
      expect.stringMatching(/label "rose" is not one of the classes/),
    ]);
    expect(predictionProblems(manifest, [{ 'Iris-setosa': 1 }], labels('Iris-setosa'))).toEqual([
      expect.stringMatching(/is not a tensor \(export it without ZipMap\)/),
    ]);
  });

  it('reports inputs missing on either side, wrong dtypes and missing outputs', () => {
    const session = {
      inputNames: ['features'],
      outputNames: ['output_label'],
      inputMetadata: [{ name: 'features', isTensor: true as const, type: 'float32' as const, shape: [-1, 4] }],
    };
    expect(signatureProblems(manifest, session)).toEqual([
      'the manifest\'s inputs "X" are not inputs of model.onnx',
      'model.onnx\'s inputs "features" are not in the manifest',
      'model.onnx has no output "label" (it has "output_label")',
      'model.onnx has no output "probabilities" (it has "output_label")',
    ]);
    const typed = {
      ...session,
      inputNames: ['X'],
      outputNames: ['label', 'probabilities'],
      inputMetadata: [{ ...session.inputMetadata[0], name: 'X', type: 'string' as const }],
    };
    expect(signatureProblems(manifest, typed)).toEqual([
      'input "X" is string in model.onnx but float32 in the manifest',
    ]);
  });

  it('makes a smoke row from imputation values, ranges, first categories and fixed text', () => {
    const feature = (f: Partial<ManifestFeature>): ManifestFeature => ({
      name: 'f',
      type: 'numeric',
      input: 'f',
      missing: { policy: 'mean', value: 2.5 },
      ...f,
    });
    expect(smokeValue(feature({}))).toBe(2.5);
    expect(smokeValue(feature({ missing: { policy: 'empty', value: '' }, range: { min: 1, max: 3 } }))).toBe(2);
    expect(
      smokeValue(
        feature({
          type: 'categorical',
          categories: ['red', 'blue'],
          missing: { policy: 'most_frequent', value: 'blue' },
        }),
      ),
    ).toBe('red');
    expect(smokeValue(feature({ type: 'text', missing: { policy: 'empty', value: '' } }))).toBe('smoke test');
  });
});
