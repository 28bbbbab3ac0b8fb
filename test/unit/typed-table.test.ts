import { loadTable } from '../../core/data/load';
import { loadColumns } from '../../core/data/load-columns';
import { inferSchema } from '../../core/data/schema';
import { readLabels } from '../../training/data/labels';
import { dataWarnings } from '../../training/data/warnings';
import { trainBaselines } from '../../training/baseline';
import { labelledSplit, trainCandidates } from '../../training/train';
import { holdoutParity } from '../../training/verify';
import { exportModel } from '../../training/export';
import { DATASETS, datasetPaths, trainOptionsFor } from '../../training/datasets/catalog';
import { tempFiles } from '../helpers/temp-files';

/**
 * Training reads typed columns (core/data/columns.ts) and never the string rows: the CLI loads
 * straight into them (loadColumns). Each reader must see what the string rows said.
 */

const files = tempFiles();
afterAll(files.cleanup);

describe('the readers of a typed table', () => {
  test('take integers that differ only in their blanks as distinct (an identifier), as the string rows did', () => {
    const rows = Array.from({ length: 60 }, (_, i) => `${i < 30 ? i : ` ${i - 30} `},${i * 1.5},${i % 2 ? 'a' : 'b'}`);
    const path = files.write('padded-ids.csv', ['id,x,label', ...rows].join('\n'));
    for (const table of [loadTable([path]), loadColumns([path])])
      expect(inferSchema(table, { label: 'label', types: {} }).ignored).toEqual([
        { name: 'id', reason: 'identifier (every value distinct)' },
      ]);
  });

  test('keep classes that are one number written two ways apart, in the order the file had them', () => {
    const path = files.write('labels.csv', 'x,label\n1,1.0\n2,1\n3,0\n4,1.0\n');
    const fromRows = readLabels(loadTable([path]), 'label');
    expect(fromRows.classes).toEqual(['0', '1.0', '1']);
    expect(readLabels(loadColumns([path]), 'label')).toEqual(fromRows);
  });

  test('name the file and line of a missing label and of a word in a numeric column', () => {
    const a = files.write('a.csv', 'x,label\n1,a\n2,b\n');
    const b = files.write('b.csv', 'x,label\n3,a\n\n4,\n');
    expect(() => readLabels(loadColumns([a, b]), 'label')).toThrow(/b\.csv: line 4: the label "label" is missing/);
    const c = files.write('c.csv', 'x,label\n5,a\nfive,b\n');
    expect(() => inferSchema(loadColumns([a, c]), { label: 'label', types: { x: 'numeric' } })).toThrow(
      /c\.csv: line 3, column "x": "five" is not a number/,
    );
  });

  test('give the schema, warnings and baselines the string rows give (bundled datasets)', () => {
    for (const spec of [DATASETS.ai4i2020, DATASETS.mushrooms, DATASETS.sentiment]) {
      const raw = loadTable(datasetPaths(spec), spec.load);
      const typed = loadColumns(datasetPaths(spec), spec.load);
      const options = trainOptionsFor(spec);
      const schema = inferSchema(raw, options);
      expect(inferSchema(typed, options)).toEqual(schema);
      expect(dataWarnings(typed, schema)).toEqual(dataWarnings(raw, schema));
      const train = Int32Array.from({ length: 500 }, (_, i) => i * 3);
      expect(trainBaselines(typed, schema, train)).toEqual(trainBaselines(raw, schema, train));
    }
  });

  test('train the same run from typed columns as from string rows, and onnxruntime agrees on the typed holdout', async () => {
    const spec = DATASETS.ai4i2020;
    const options = { ...trainOptionsFor(spec), algorithms: ['lr' as const] };
    const raw = loadTable(datasetPaths(spec), spec.load);
    const typed = loadColumns(datasetPaths(spec), { ...spec.load, digestExclude: options.exclude ?? [] });
    const a = trainCandidates(raw, options);
    const b = trainCandidates(typed, options);
    expect(b.split).toEqual(a.split);
    // The pipeline scores a champion on string rows, training splits typed columns: the same rows and digests.
    const columns = { label: options.label, exclude: options.exclude };
    expect(labelledSplit(typed, columns, 42)).toEqual(labelledSplit(raw, columns, 42));
    expect(b.baseline).toEqual(a.baseline);
    expect(b.encoder.features).toEqual(a.encoder.features);
    expect(b.best.holdoutProbabilities).toEqual(a.best.holdoutProbabilities);
    const { onnx } = exportModel(b, b.best, 'ai4i', typed.sources);
    expect(await holdoutParity(b, b.best, onnx, typed)).toBeLessThan(1e-5);
    expect(b.encoder.tableInputs(typed, b.split.holdout)).toEqual(a.encoder.tableInputs(raw, a.split.holdout));
  });

  test('deal the same cross-validation folds from a table that kept only split keys (iris, k-fold)', () => {
    const spec = DATASETS.iris;
    const options = { ...trainOptionsFor(spec), algorithms: ['nb' as const] };
    const raw = loadTable(datasetPaths(spec), spec.load);
    const typed = loadColumns(datasetPaths(spec), { ...spec.load, digestExclude: options.exclude ?? [] });
    expect(typed.splitKeys).toBeDefined();
    const a = trainCandidates(raw, options);
    const b = trainCandidates(typed, options);
    expect(a.selection.protocol).toBe('k-fold');
    expect(b.cvFolds).toEqual(a.cvFolds);
    expect(b.best.holdoutProbabilities).toEqual(a.best.holdoutProbabilities);
  });
});
