import { classificationMetrics, rocAuc } from '../../training/metrics';

describe('classificationMetrics', () => {
  // Reference values computed by hand (and agree with scikit-learn's accuracy_score, f1_score
  // average='macro', log_loss, roc_auc_score, confusion_matrix on the same arrays).
  const y = [0, 0, 1, 1, 1];
  const p = [0.9, 0.1, 0.4, 0.6, 0.2, 0.8, 0.7, 0.3, 0.3, 0.7].map(Number);

  test('accuracy, macro F1, log loss, ROC AUC and confusion matrix of a binary problem', () => {
    const m = classificationMetrics(y, p, ['neg', 'pos']);
    expect(m.confusionMatrix).toEqual([
      [1, 1],
      [1, 2],
    ]);
    expect(m.accuracy).toBeCloseTo(0.6, 12);
    // F1(neg) = 0.5, F1(pos) = 2/3
    expect(m.macroF1).toBeCloseTo((0.5 + 2 / 3) / 2, 12);
    expect(m.logLoss).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.4) + Math.log(0.8) + Math.log(0.3) + Math.log(0.7)) / 5,
      12,
    );
    // positives score 0.8, 0.3, 0.7 against negatives 0.1, 0.6: 5 of the 6 pairs are ordered
    expect(m.rocAuc).toBeCloseTo(5 / 6, 12);
    expect(m.perClass[1]).toEqual({
      class: 'pos',
      precision: 2 / 3,
      recall: 2 / 3,
      f1: expect.closeTo(2 / 3, 12),
      support: 3,
    });
  });

  test('no ROC AUC for three classes; a class never predicted gets F1 0', () => {
    const m = classificationMetrics([0, 1, 2], [1, 0, 0, 1, 0, 0, 0, 1, 0], ['a', 'b', 'c']);
    expect(m.rocAuc).toBeUndefined();
    expect(m.perClass.map((c) => c.f1)).toEqual([expect.closeTo(2 / 3, 12), 0, 0]);
  });

  test('clips probabilities of 0 in the log loss like scikit-learn', () => {
    expect(classificationMetrics([0, 1], [0, 1, 0, 1], ['a', 'b']).logLoss).toBeCloseTo(-Math.log(1e-15) / 2, 6);
  });
});

describe('rocAuc', () => {
  test('counts tied scores as half', () => {
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
  });
});
