import { gzipSync } from 'node:zlib';
import { computeBaseline, recordRows } from '../../core/monitoring/baseline';
import {
  type Baseline,
  CAPTURE_KIND,
  type CaptureRecord,
  captureObjectPrefix,
  DEFAULT_MONITORING,
  feedbackKey,
  type FeedbackRecord,
  type MonitoringSettings,
} from '../../core/monitoring/contract';
import type { RetrainStarter } from '../../core/monitoring/job';
import type { ModelManifest } from '../../core/manifest';
import type { ObjectStore } from '../../core/object-store';
import type { AliasRecord, ModelSource } from '../../core/registry/types';

/**
 * Captured traffic for the monitoring job's tests: a seeded generator of rows like the training
 * data (two numeric features, a category, a short text), the baseline training computes from it,
 * and writers that put records and feedback where the capture path and the feedback endpoint do.
 */

const CLASSES = ['setosa', 'versicolor', 'virginica'] as const;
const COLOURS = ['red', 'green', 'blue'];
const WORDS = ['small', 'bright', 'petal', 'long', 'leaf', 'flower'];

/** mulberry32: a small seeded generator, so every run sees the same data. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Row = Record<string, number | string | null>;

/** One row as traffic (or training) has it; `shift` moves petal_length. */
function makeRow(random: () => number, shift = 0): Row {
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const words = Array.from({ length: 2 + Math.floor(random() * 4) }, () => WORDS[Math.floor(random() * WORDS.length)]);
  return {
    petal_length: Math.round((4 + normal + shift) * 100) / 100,
    sepal_width: Math.round((3 + random()) * 100) / 100,
    colour: random() < 0.05 ? null : COLOURS[Math.floor(random() * COLOURS.length)],
    note: words.join(' '),
  };
}

function makeLabel(random: () => number): string {
  return CLASSES[Math.floor(random() * CLASSES.length)];
}

/** The baseline training would store for 2000 such rows and a holdout predicted evenly. */
export function trainingBaseline(): Baseline {
  const random = seeded(7);
  const rows = Array.from({ length: 2000 }, () => makeRow(random));
  const features = [
    { name: 'petal_length', type: 'numeric' as const },
    { name: 'sepal_width', type: 'numeric' as const },
    { name: 'colour', type: 'categorical' as const },
    { name: 'note', type: 'text' as const },
  ];
  return computeBaseline(features, recordRows(rows), {
    classes: CLASSES,
    predicted: Array.from({ length: 300 }, (_, i) => i % 3),
  });
}

/** A registry stand-in: every model's champion is `version`, whose manifest carries `baseline`. */
export function championSource(
  version: number | undefined,
  baseline: Baseline | undefined,
): Pick<ModelSource, 'resolveAlias' | 'getManifest'> {
  return {
    resolveAlias: async (model, alias) => {
      if (version === undefined) return undefined;
      const record: AliasRecord = {
        model,
        alias,
        version,
        movedAt: '2026-01-01T00:00:00.000Z',
        actor: 'test',
        reason: 'test',
      };
      return { record, etag: 'etag' };
    },
    getManifest: async (model, v) =>
      ({
        name: model,
        version: v,
        classes: [...CLASSES],
        ...(baseline ? { baseline } : {}),
      }) as unknown as ModelManifest,
  };
}

/** A retrain starter that records its calls (and can be told to fail). */
export function recordingStarter(): RetrainStarter & {
  calls: { model: string; reportKey: string; executionName: string }[];
  fail?: Error;
} {
  const starter = {
    calls: [] as { model: string; reportKey: string; executionName: string }[],
    fail: undefined as Error | undefined,
    async start(model: string, reportKey: string, executionName: string) {
      if (starter.fail) throw starter.fail;
      starter.calls.push({ model, reportKey, executionName });
      return { started: true };
    },
  };
  return starter;
}

export function settings(overrides: Partial<MonitoringSettings> = {}): MonitoringSettings {
  return {
    ...DEFAULT_MONITORING,
    minRecords: 200,
    windowHours: 24,
    cooldownHours: 24,
    driftThreshold: 0.25,
    ...overrides,
  };
}

let sequence = 0;

/** `count` records at `time` (ms apart), version `version`, rows from `random`. */
export function captureRecords(
  model: string,
  count: number,
  options: { time: Date; random: () => number; shift?: number; version?: number },
): CaptureRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: CAPTURE_KIND,
    inferenceId: `${model}-${++sequence}`,
    time: new Date(options.time.getTime() + i).toISOString(),
    model,
    version: options.version ?? 1,
    variant: 'champion',
    features: makeRow(options.random, options.shift),
    label: makeLabel(options.random),
    probabilities: {},
    latencyMs: 1,
  }));
}

/** Writes records as one capture object in the partition of `arrival` (JSON lines, or gzip). */
export async function putCapture(
  store: ObjectStore,
  model: string,
  records: readonly CaptureRecord[],
  arrival: Date,
  options: { gzip?: boolean } = {},
): Promise<string> {
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  const key = `${captureObjectPrefix(model, arrival)}capture-${++sequence}.jsonl${options.gzip ? '.gz' : ''}`;
  await store.put(key, options.gzip ? gzipSync(text) : text);
  return key;
}

export async function putFeedback(
  store: ObjectStore,
  model: string,
  labels: readonly { inferenceId: string; label: string }[],
  receivedAt: Date,
): Promise<void> {
  const records: FeedbackRecord[] = labels.map((l) => ({ ...l, model, receivedAt: receivedAt.toISOString() }));
  await store.put(
    feedbackKey(model, receivedAt, `request-${++sequence}`),
    records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
}
