import { instanceId, newInferenceId, parseInferenceId } from '../../core/monitoring/inference-id';

describe('inference ids', () => {
  const at = Date.parse('2026-11-30T19:00:00.000Z');

  it('are UUID version 7 strings whose first 48 bits are the issue time', () => {
    const id = newInferenceId('iris', at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const parsed = parseInferenceId('iris', id);
    expect(parsed).toEqual({ ok: true, id, requestId: id, index: undefined, issuedAt: at });
  });

  it('are distinct per request and sort by time', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => newInferenceId('iris', at + i));
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('name a batch instance by index, a single instance by the request id', () => {
    const id = newInferenceId('iris', at);
    expect(instanceId(id, 0, 1)).toBe(id);
    expect(instanceId(id, 3, 10)).toBe(`${id}.3`);
    expect(parseInferenceId('iris', `${id}.3`)).toMatchObject({ ok: true, requestId: id, index: 3 });
  });

  it("refuse another model's id, a mistyped id and a made-up UUID", () => {
    const id = newInferenceId('iris', at);
    expect(parseInferenceId('flowers', id)).toEqual({ ok: false, reason: 'not-issued' });
    const last = id.at(-1) === '0' ? '1' : '0';
    expect(parseInferenceId('iris', id.slice(0, -1) + last)).toEqual({ ok: false, reason: 'not-issued' });
    expect(parseInferenceId('iris', '0190f5c2-7a1b-7c3d-8e4f-0123456789ab')).toEqual({
      ok: false,
      reason: 'not-issued',
    });
  });

  it('refuse what is not an id at all, and read upper case as issued', () => {
    for (const bad of [
      '',
      'abc',
      '12345678-1234-4234-8234-123456789abc',
      `${newInferenceId('iris', at)}.x`,
      `${newInferenceId('iris', at)}.01`,
    ]) {
      expect(parseInferenceId('iris', bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    const id = newInferenceId('iris', at);
    expect(parseInferenceId('iris', id.toUpperCase())).toMatchObject({ ok: true, id });
  });
});
