import { DataError } from '../../training/data/errors';
import { loadTable } from '../../training/data/load';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { trainCandidates } from '../../training/train';
import { tempFiles } from '../helpers/temp-files';

const files = tempFiles();
afterAll(files.cleanup);

describe('trainCandidates', () => {
  const iris = loadDataset(DATASETS.iris);

  test('gives identical candidates for the same seed, and a different split for another seed', () => {
    const a = trainCandidates(iris, { label: 'class', seed: 7 });
    const b = trainCandidates(iris, { label: 'class', seed: 7 });
    expect(a.candidates.map((c) => Array.from(c.holdoutProbabilities))).toEqual(b.candidates.map((c) => Array.from(c.holdoutProbabilities)));
    expect(a.split).toEqual(b.split);
    expect(trainCandidates(iris, { label: 'class', seed: 8, algorithms: ['nb'] }).split.holdout).not.toEqual(a.split.holdout);
  });

  test('picks the best candidate on validation scores, never on the holdout', () => {
    const run = trainCandidates(iris, { label: 'class' });
    const bestValidation = Math.max(...run.candidates.map((c) => c.validation.macroF1));
    expect(run.best.validation.macroF1).toBe(bestValidation);
    // The first candidate reaching the best validation score wins ties (deterministic choice).
    expect(run.best).toBe(run.candidates.find((c) => c.validation.macroF1 === bestValidation));
  });

  test('selects on accuracy when asked', () => {
    const run = trainCandidates(iris, { label: 'class', selectionMetric: 'accuracy', algorithms: ['lr', 'nb'] });
    expect(run.selectionMetric).toBe('accuracy');
    expect(run.best.validation.accuracy).toBe(Math.max(...run.candidates.map((c) => c.validation.accuracy)));
  });

  test('skips tree models for text features and says why', () => {
    const sentiment = loadTable([files.write('s.tsv', Array.from({ length: 60 }, (_, i) => `${i % 2 ? 'a truly great fine product' : 'a really bad awful thing'} ${i}\t${i % 2}`).join('\n'))], {
      columns: ['sentence', 'label'],
    });
    const run = trainCandidates(sentiment, { label: 'label', types: { sentence: 'text' }, algorithms: ['lr', 'gbdt', 'rf'] });
    expect(run.candidates.map((c) => c.algorithm)).toEqual(['lr']);
    expect(run.skipped).toEqual([
      { algorithm: 'gbdt', reason: 'does not train on text features' },
      { algorithm: 'rf', reason: 'does not train on text features' },
    ]);
  });

  test('keeps a class with a single row in the training split', () => {
    const rows = ['x,label', ...Array.from({ length: 30 }, (_, i) => `${i},a`), '99,b'];
    const run = trainCandidates(loadTable([files.write('rare.csv', rows.join('\n'))]), { label: 'label', algorithms: ['nb'] });
    expect(run.classes).toEqual(['a', 'b']);
    expect(Array.from(run.split.train)).toContain(30);
  });

  test('fails with a clear error when there are too few rows to split', () => {
    const table = loadTable([files.write('tiny.csv', 'x,label\n1,a\n2,a\n3,b\n4,b\n')]);
    expect(() => trainCandidates(table, { label: 'label' })).toThrow(DataError);
    expect(() => trainCandidates(table, { label: 'label' })).toThrow(/too few rows \(4\) to split into train, validation and holdout for 2 classes/);
  });
});
