import type { CaptureRecord, FeedbackRecord, LiveAccuracy, MonitoringReport } from './contract';

/**
 * Live accuracy: captured answers joined with the true labels sent back for them, by inference
 * id. The feedback (small: one label per id someone bothered to label) is held in a map; captured
 * records stream past it, so a window of millions of records is never held. Per version the join
 * keeps only (true label, predicted label) pair counts, from which accuracy and macro F1 follow.
 *
 * training/metrics.ts computes the same scores from per-row class-index arrays and a fixed class
 * list; here rows are not kept and the classes are whatever labels turn up, so the F1 is computed
 * from the pair counts (the same definition: per class 2TP / (2TP + FP + FN), averaged).
 */

/** The label for each id: the latest receivedAt wins (ties: the later record read). */
export function latestLabels(
  feedback: Iterable<Pick<FeedbackRecord, 'inferenceId' | 'label' | 'receivedAt'>>,
): Map<string, string> {
  const latest = new Map<string, { label: string; at: number }>();
  for (const record of feedback) {
    const parsed = Date.parse(record.receivedAt);
    const at = Number.isNaN(parsed) ? -Infinity : parsed;
    const current = latest.get(record.inferenceId);
    if (current === undefined || at >= current.at) latest.set(record.inferenceId, { label: record.label, at });
  }
  const labels = new Map<string, string>();
  for (const [id, { label }] of latest) labels.set(id, label);
  return labels;
}

/** Accuracy and macro F1 from (true, predicted) pair counts; macro F1 over every label present on either side, as scikit-learn's f1_score(average='macro'). */
export function scoresFromPairs(
  pairs: Iterable<{ readonly actual: string; readonly predicted: string; readonly count: number }>,
): { labelled: number; accuracy: number | null; macroF1: number | null } {
  let labelled = 0;
  let correct = 0;
  const truePositives = new Map<string, number>();
  const actualCounts = new Map<string, number>();
  const predictedCounts = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by);
  for (const { actual, predicted, count } of pairs) {
    labelled += count;
    bump(actualCounts, actual, count);
    bump(predictedCounts, predicted, count);
    if (actual === predicted) {
      correct += count;
      bump(truePositives, actual, count);
    }
  }
  if (labelled === 0) return { labelled, accuracy: null, macroF1: null };
  const classes = new Set([...actualCounts.keys(), ...predictedCounts.keys()]);
  let f1Sum = 0;
  for (const name of classes) {
    // 2TP / (2TP + FP + FN) = 2TP / (predicted + actual); a present class has a positive denominator.
    f1Sum += (2 * (truePositives.get(name) ?? 0)) / ((predictedCounts.get(name) ?? 0) + (actualCounts.get(name) ?? 0));
  }
  return { labelled, accuracy: correct / labelled, macroF1: f1Sum / classes.size };
}

/**
 * The join, fed one captured record at a time. A label counts once, with the first captured
 * record of its id (capture is delivered at least once: a duplicate record must not count twice).
 */
export class FeedbackJoin {
  private readonly matchedIds = new Set<string>();
  /** version -> true label -> predicted label -> count */
  private readonly pairs = new Map<number, Map<string, Map<string, number>>>();

  constructor(private readonly labels: ReadonlyMap<string, string>) {}

  add(record: Pick<CaptureRecord, 'inferenceId' | 'version' | 'label'>): void {
    let versionPairs = this.pairs.get(record.version);
    if (versionPairs === undefined) {
      versionPairs = new Map();
      this.pairs.set(record.version, versionPairs);
    }
    const actual = this.labels.get(record.inferenceId);
    if (actual === undefined || this.matchedIds.has(record.inferenceId)) return;
    this.matchedIds.add(record.inferenceId);
    let row = versionPairs.get(actual);
    if (row === undefined) {
      row = new Map();
      versionPairs.set(actual, row);
    }
    row.set(record.label, (row.get(record.label) ?? 0) + 1);
  }

  /** Feedback counts (ids with a label; joined to a record; not) and, per version seen, its live scores. */
  result(): Pick<MonitoringReport, 'feedback' | 'liveAccuracy'> {
    const received = this.labels.size;
    const matched = this.matchedIds.size;
    const liveAccuracy: LiveAccuracy[] = [...this.pairs.keys()]
      .sort((a, b) => a - b)
      .map((version) => {
        const rows = this.pairs.get(version) as Map<string, Map<string, number>>;
        const pairs = [...rows].flatMap(([actual, row]) =>
          [...row].map(([predicted, count]) => ({ actual, predicted, count })),
        );
        return { version, ...scoresFromPairs(pairs) };
      });
    return { feedback: { received, matched, unmatched: received - matched }, liveAccuracy };
  }
}

/** The join over lists (FeedbackJoin in one call). */
export function joinFeedback(
  captured: Iterable<Pick<CaptureRecord, 'inferenceId' | 'version' | 'label'>>,
  feedback: Iterable<Pick<FeedbackRecord, 'inferenceId' | 'label' | 'receivedAt'>>,
): Pick<MonitoringReport, 'feedback' | 'liveAccuracy'> {
  const join = new FeedbackJoin(latestLabels(feedback));
  for (const record of captured) join.add(record);
  return join.result();
}
