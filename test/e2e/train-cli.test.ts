import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from '../../core/manifest';
import { baselineProblems } from '../../core/monitoring/baseline';
import { tempFiles } from '../helpers/temp-files';
import { runTrainCli } from '../helpers/train-cli';

const files = tempFiles();
afterAll(files.cleanup);

const train = runTrainCli;

describe('npm run train (the CLI)', () => {
  test('trains the candidates, prints the table with the best marked, writes model.onnx and manifest.json', async () => {
    const out = files.write('unused', '') + '-model';
    const r = await train([
      '--data',
      'training/datasets/iris.csv',
      '--columns',
      'sepal_length,sepal_width,petal_length,petal_width,class',
      '--label',
      'class',
      '--algorithms',
      'lr,nb',
      '--out',
      out,
      '--name',
      'iris',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\*?\s+lr\s/m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('*'))).toHaveLength(1);
    expect(r.stderr).toMatch(/split \(seed 42\): 97 train, 27 validation, 26 holdout rows/);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ModelManifest;
    expect(manifest).toMatchObject({
      name: 'iris',
      label: 'class',
      classes: ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'],
      outputs: { label: 'label', probabilities: 'probabilities' },
      trainingData: [{ sha256: '6f608b71a7317216319b4d27b4d9bc84e6abd734eda7872b71a458569e2656c0', rows: 150 }],
    });
    expect(manifest.features.map((f) => f.name)).toEqual([
      'sepal_length',
      'sepal_width',
      'petal_length',
      'petal_width',
    ]);
    expect(manifest.features[0].missing.policy).toBe('mean');
    expect(manifest.candidates.map((c) => c.algorithm)).toEqual(['lr', 'nb']);
    expect(manifest.metrics.holdout.confusionMatrix).toHaveLength(3);
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The drift baseline: from the 97 train rows, predictions on the 26 holdout rows.
    expect(baselineProblems(manifest.baseline, manifest)).toEqual([]);
    expect(manifest.baseline?.rows).toBe(97);
    expect(Object.values(manifest.baseline?.predictions ?? {}).reduce((a, b) => a + b, 0)).toBe(26);
  });

  test('exits 2 with a data error naming the problem, and writes nothing', async () => {
    const out = files.write('unused2', '') + '-model';
    const r = await train([
      '--data',
      files.write('ragged.csv', 'a,b,label\n1,2,x\n3,y\n'),
      '--label',
      'label',
      '--out',
      out,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/data error: .*ragged\.csv: line 3 has 2 fields, expected 3/);
    expect(existsSync(out)).toBe(false);
  });

  test('exits 2 with usage when a required option is missing', async () => {
    const r = await train(['--data', 'training/datasets/iris.csv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--label is required[\s\S]*Usage: npm run train/);
  });
});
