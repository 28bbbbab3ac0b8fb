import { newInferenceId } from '../../core/monitoring/inference-id';
import { type FeedbackContext, parseFeedback } from '../../lambdas/inference/feedback';

const now = new Date('2026-11-30T19:00:00.000Z');
const context: FeedbackContext = {
  model: 'iris',
  classes: ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'],
  capture: { enabled: true, sampleRate: 1, retentionDays: 30 },
  maxItems: 3,
  now,
};
const issued = (msAgo = 1000) => newInferenceId('iris', now.getTime() - msAgo);

describe('parseFeedback', () => {
  it('accepts one label and a batch, normalised and stamped', () => {
    const id = issued();
    expect(parseFeedback({ inferenceId: id.toUpperCase(), label: 'Iris-setosa' }, context)).toEqual({
      ok: true,
      value: [{ inferenceId: id, label: 'Iris-setosa', model: 'iris', receivedAt: now.toISOString() }],
    });
    const batch = parseFeedback(
      {
        feedback: [
          { inferenceId: `${id}.0`, label: 'Iris-setosa' },
          { inferenceId: `${id}.1`, label: 'Iris-virginica' },
        ],
      },
      context,
    );
    expect(batch.ok && batch.value.map((r) => r.inferenceId)).toEqual([`${id}.0`, `${id}.1`]);
  });

  it.each([
    ['a non-object body', [1], 400, 'invalid_feedback', undefined],
    ['a missing id', { label: 'Iris-setosa' }, 400, 'missing_inference_id', 'inferenceId'],
    ['an unknown field', { inferenceId: 'x', label: 'Iris-setosa', lable: 1 }, 400, 'unknown_field', 'lable'],
    ['a label outside the classes', { inferenceId: issued(), label: 'Iris-nova' }, 400, 'unknown_label', 'label'],
    ['a missing label', { inferenceId: issued() }, 400, 'missing_label', 'label'],
    [
      'an id that is not one',
      { inferenceId: 'not-an-id', label: 'Iris-setosa' },
      404,
      'unknown_inference_id',
      'inferenceId',
    ],
    [
      "another model's id",
      { inferenceId: newInferenceId('flowers', now.getTime()), label: 'Iris-setosa' },
      404,
      'unknown_inference_id',
      'inferenceId',
    ],
    [
      'an id from the future',
      { inferenceId: newInferenceId('iris', now.getTime() + 3_600_000), label: 'Iris-setosa' },
      404,
      'unknown_inference_id',
      'inferenceId',
    ],
    [
      'an id older than the retention',
      { inferenceId: issued(31 * 86_400_000), label: 'Iris-setosa' },
      410,
      'inference_expired',
      'inferenceId',
    ],
    ['an empty batch', { feedback: [] }, 400, 'invalid_feedback', 'feedback'],
    ['too many labels', { feedback: [1, 2, 3, 4] }, 413, 'too_many_labels', 'feedback'],
  ])('refuses %s, naming the field', (_what, body, status, code, field) => {
    const result = parseFeedback(body, context);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ status, code });
    expect(result.error.field).toBe(field);
  });

  it('names the batch item at fault and keeps nothing of the request', () => {
    const result = parseFeedback(
      {
        feedback: [
          { inferenceId: issued(), label: 'Iris-setosa' },
          { inferenceId: issued(), label: 'rose' },
        ],
      },
      context,
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'unknown_label', field: 'feedback[1].label' } });
  });

  it('refuses every label of a model whose capture is off', () => {
    const result = parseFeedback(
      { inferenceId: issued(), label: 'Iris-setosa' },
      { ...context, capture: { ...context.capture, enabled: false } },
    );
    expect(result).toMatchObject({ ok: false, error: { status: 409, code: 'capture_disabled' } });
  });
});
