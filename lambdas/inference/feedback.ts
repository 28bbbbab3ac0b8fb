import { randomUUID } from 'node:crypto';
import { feedbackKey, type FeedbackRecord } from '../../core/monitoring/contract';
import { parseInferenceId } from '../../core/monitoring/inference-id';
import type { ObjectStore } from '../../core/object-store';
import type { CaptureSettings } from './capture';
import { fieldPath } from './request';
import { type ApiError, fail, listOf, ok, type Result, truncate } from './responses';

/**
 * POST /models/{name}/feedback: true labels for answers the model gave, by inference id.
 *
 * Accepted bodies:
 *   {"inferenceId": "<id>", "label": "<class>"}                one label
 *   {"feedback": [{"inferenceId": ..., "label": ...}, ...]}     at most maxBatch labels
 * Every item is checked before anything is stored (one bad item refuses the request, naming it):
 * the id must be one this platform issued for this model (core/monitoring/inference-id.ts), not
 * older than the model's capture retention (its captured record is gone: 410), and the label one
 * of the model's classes. Accepted labels are written as one object of JSON lines under
 * feedback/<model>/date=<day>/; the latest label for an id wins when the monitoring job joins them.
 */

const EXPECTED_BODY =
  '{"inferenceId": "...", "label": "..."} or {"feedback": [{"inferenceId": "...", "label": "..."}, ...]}';
/** Clock skew tolerated between the instance that issued an id and the one receiving its feedback. */
const FUTURE_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

const badRequest = (
  code: string,
  message: string,
  extra: Omit<ApiError, 'status' | 'code' | 'message'> = {},
): ApiError => ({ status: 400, code, message, ...extra });
const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface FeedbackContext {
  readonly model: string;
  readonly classes: readonly string[];
  readonly capture: CaptureSettings;
  readonly maxItems: number;
  readonly now: Date;
}

/** The request's labels as records to store, or the first problem found. */
export function parseFeedback(json: unknown, context: FeedbackContext): Result<FeedbackRecord[]> {
  const { model, classes, capture, now } = context;
  if (!capture.enabled) {
    return fail({
      status: 409,
      code: 'capture_disabled',
      message: `model ${JSON.stringify(model)} does not capture its requests (monitoring.capture.enabled is false in its spec), so labels cannot be joined to answers`,
    });
  }
  let items: readonly unknown[];
  let base: string | undefined;
  if (isRecord(json) && 'feedback' in json) {
    const list = json.feedback;
    if (!Array.isArray(list) || list.length === 0)
      return fail(
        badRequest('invalid_feedback', '"feedback" must be a non-empty array', {
          field: 'feedback',
          expected: EXPECTED_BODY,
        }),
      );
    if (list.length > context.maxItems)
      return fail({
        status: 413,
        code: 'too_many_labels',
        message: `${list.length} labels in one request; the limit is ${context.maxItems}`,
        field: 'feedback',
        expected: `at most ${context.maxItems} items`,
      });
    const extra = Object.keys(json).find((k) => k !== 'feedback');
    if (extra !== undefined)
      return fail(
        badRequest('unknown_field', `unknown field ${JSON.stringify(truncate(extra))}`, {
          field: truncate(extra),
          expected: EXPECTED_BODY,
        }),
      );
    items = list;
    base = 'feedback';
  } else if (isRecord(json)) {
    items = [json];
  } else {
    return fail(badRequest('invalid_feedback', 'the body must be a JSON object', { expected: EXPECTED_BODY }));
  }

  const known = new Set(classes);
  const retentionMs = capture.retentionDays * DAY_MS;
  const records: FeedbackRecord[] = [];
  const receivedAt = now.toISOString();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const at = (key: string) => (base === undefined ? key : fieldPath(fieldPath(base, i), key));
    if (!isRecord(item))
      return fail(
        badRequest('invalid_feedback', 'each feedback item must be an object', {
          field: fieldPath(base ?? '', i),
          expected: '{"inferenceId": "...", "label": "..."}',
        }),
      );
    const extra = Object.keys(item).find((k) => k !== 'inferenceId' && k !== 'label');
    if (extra !== undefined)
      return fail(
        badRequest('unknown_field', `unknown field ${JSON.stringify(truncate(extra))}`, {
          field: at(truncate(extra)),
          expected: 'only inferenceId and label',
        }),
      );
    const { inferenceId, label } = item;
    if (typeof inferenceId !== 'string' || inferenceId === '') {
      return fail(
        badRequest('missing_inference_id', 'inferenceId is required', {
          field: at('inferenceId'),
          expected: 'the inferenceId of a prediction (also the x-inference-id header of one-instance requests)',
        }),
      );
    }
    const parsed = parseInferenceId(model, inferenceId);
    if (!parsed.ok || parsed.issuedAt > now.getTime() + FUTURE_SKEW_MS) {
      const why =
        !parsed.ok && parsed.reason === 'malformed'
          ? 'is not an inference id'
          : `is not an inference id model ${JSON.stringify(model)} issued (mistyped, or another model's)`;
      return fail({
        status: 404,
        code: 'unknown_inference_id',
        message: `${JSON.stringify(truncate(inferenceId))} ${why}`,
        field: at('inferenceId'),
        expected: "the inferenceId of one of this model's predictions",
      });
    }
    if (now.getTime() - parsed.issuedAt > retentionMs) {
      return fail({
        status: 410,
        code: 'inference_expired',
        message: `${JSON.stringify(parsed.id)} was issued ${new Date(parsed.issuedAt).toISOString()}, more than the ${capture.retentionDays} day(s) captured records of ${JSON.stringify(model)} are kept; its record is gone`,
        field: at('inferenceId'),
        expected: `an id issued within the last ${capture.retentionDays} day(s)`,
      });
    }
    if (typeof label !== 'string' || !known.has(label)) {
      const got =
        typeof label === 'string' ? JSON.stringify(truncate(label)) : label === undefined ? 'nothing' : typeof label;
      return fail(
        badRequest(
          label === undefined ? 'missing_label' : 'unknown_label',
          `label must be one of the model's classes, got ${got}`,
          { field: at('label'), expected: `one of ${listOf(classes, 20)}`, allowed: classes.slice(0, 50) },
        ),
      );
    }
    records.push({ inferenceId: parsed.id, label, model, receivedAt });
  }
  return ok(records);
}

/** Writes accepted labels as one object of JSON lines; returns its key. */
export async function storeFeedback(
  store: Pick<ObjectStore, 'put'>,
  model: string,
  records: readonly FeedbackRecord[],
  now: Date,
): Promise<string> {
  const key = feedbackKey(model, now, randomUUID());
  await store.put(key, records.map((r) => JSON.stringify(r)).join('\n') + '\n', {
    contentType: 'application/x-ndjson',
  });
  return key;
}
