import { FeedbackJoin, joinFeedback, latestLabels, scoresFromPairs } from '../../core/monitoring/live-accuracy';
import expected from '../fixtures/drift/expected.json';

/** Live accuracy and macro F1 from captured answers joined with feedback labels by inference id. */

const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;

describe('joinFeedback, worked by hand', () => {
  const captured = [
    { inferenceId: 'id1', version: 1, label: 'cat' },
    { inferenceId: 'id2', version: 1, label: 'dog' },
    { inferenceId: 'id3', version: 1, label: 'dog' },
    { inferenceId: 'id4', version: 2, label: 'cat' },
    // No feedback: counts for nothing but its version.
    { inferenceId: 'id5', version: 1, label: 'cat' },
  ];
  const feedback = [
    { inferenceId: 'id1', label: 'cat', receivedAt: at(1) },
    // id2 was labelled twice: the later label (cat) wins, whatever order they are read in.
    { inferenceId: 'id2', label: 'cat', receivedAt: at(5) },
    { inferenceId: 'id2', label: 'dog', receivedAt: at(2) },
    { inferenceId: 'id3', label: 'dog', receivedAt: at(1) },
    { inferenceId: 'id4', label: 'cat', receivedAt: at(1) },
    // Joins no captured record.
    { inferenceId: 'id9', label: 'cat', receivedAt: at(1) },
  ];

  test('counts ids received, matched and unmatched', () => {
    expect(joinFeedback(captured, feedback).feedback).toEqual({ received: 5, matched: 4, unmatched: 1 });
  });

  test('scores each version on its own labelled records', () => {
    // v1: (cat, cat), (cat, dog), (dog, dog): accuracy 2/3; F1 cat = 2*1/(1+2) = 2/3, dog = 2*1/(2+1) = 2/3.
    // v2: (cat, cat): 1 and 1.
    const { liveAccuracy } = joinFeedback(captured, feedback);
    expect(liveAccuracy).toEqual([
      { version: 1, labelled: 3, accuracy: expect.closeTo(2 / 3, 12), macroF1: expect.closeTo(2 / 3, 12) },
      { version: 2, labelled: 1, accuracy: 1, macroF1: 1 },
    ]);
  });

  test('a record delivered twice counts once', () => {
    const { feedback: counts, liveAccuracy } = joinFeedback([...captured, captured[1], captured[1]], feedback);
    expect(counts.matched).toBe(4);
    expect(liveAccuracy[0].labelled).toBe(3);
  });

  test('a version without labels is listed with no scores', () => {
    const join = new FeedbackJoin(new Map());
    join.add({ inferenceId: 'x', version: 7, label: 'cat' });
    expect(join.result()).toEqual({
      feedback: { received: 0, matched: 0, unmatched: 0 },
      liveAccuracy: [{ version: 7, labelled: 0, accuracy: null, macroF1: null }],
    });
  });
});

test('latestLabels keeps the latest receivedAt per id', () => {
  const labels = latestLabels([
    { inferenceId: 'a', label: 'late', receivedAt: at(9) },
    { inferenceId: 'a', label: 'early', receivedAt: at(3) },
    { inferenceId: 'b', label: 'only', receivedAt: at(1) },
  ]);
  expect([...labels]).toEqual([
    ['a', 'late'],
    ['b', 'only'],
  ]);
});

describe('against scikit-learn', () => {
  test.each(expected.liveAccuracy)(
    'version $version: accuracy_score and f1_score(average="macro")',
    ({ version, actual, predicted, accuracy, macroF1 }) => {
      const captured = predicted.map((label, i) => ({ inferenceId: `v${version}-${i}`, version, label }));
      const feedback = actual.map((label, i) => ({ inferenceId: `v${version}-${i}`, label, receivedAt: at(0) }));
      const [result] = joinFeedback(captured, feedback).liveAccuracy;
      expect(result.labelled).toBe(actual.length);
      expect(result.accuracy).toBeCloseTo(accuracy, 12);
      // Macro over the labels on either side: a predicted "fish" no true label has scores F1 0 and counts.
      expect(result.macroF1).toBeCloseTo(macroF1, 12);
    },
  );
});

test('scoresFromPairs has no scores without labelled pairs', () => {
  expect(scoresFromPairs([])).toEqual({ labelled: 0, accuracy: null, macroF1: null });
});
