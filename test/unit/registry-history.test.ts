import { nextMoveTime, rollbackTarget, servedStack, versionAt, withCurrent } from '../../core/registry/history';
import type { AliasMove, AliasRecord } from '../../core/registry/types';

let clock = Date.parse('2025-03-01T00:00:00.000Z');
function move(kind: AliasMove['kind'], version: number, previousVersion?: number): AliasMove {
  clock += 60_000;
  return {
    model: 'iris',
    alias: 'champion',
    kind,
    version,
    previousVersion,
    movedAt: new Date(clock).toISOString(),
    actor: 'test',
    reason: 'test',
  };
}

describe('alias history rules', () => {
  it('rolls back through what served, two steps back after two rollbacks (no ping-pong)', () => {
    const moves = [move('promote', 1), move('promote', 2, 1), move('promote', 3, 2)];
    expect(rollbackTarget(moves)).toBe(2);
    moves.push(move('rollback', 2, 3));
    expect(rollbackTarget(moves)).toBe(1);
    moves.push(move('rollback', 1, 2));
    expect(rollbackTarget(moves)).toBeUndefined();
  });

  it('returns to the version before the latest promote, even one served long ago', () => {
    const moves = [move('promote', 1), move('promote', 2, 1), move('rollback', 1, 2), move('promote', 4, 1)];
    expect(servedStack(moves)).toEqual([1, 4]);
    expect(rollbackTarget(moves)).toBe(1);
  });

  it('repairs a gap in the history from the previous version a move records', () => {
    // The promote of 2 was lost; the promote of 3 says it replaced 2.
    const moves = [move('promote', 1), move('promote', 3, 2)];
    expect(servedStack(moves)).toEqual([1, 2, 3]);
    expect(rollbackTarget(moves)).toBe(2);
  });

  it('answers what served at a time from the last move at or before it', () => {
    const [a, b] = [move('promote', 1), move('promote', 2, 1)];
    const at = (iso: string, deltaMs: number) => new Date(Date.parse(iso) + deltaMs);
    expect(versionAt([b, a], at(a.movedAt, -1))).toBeUndefined();
    expect(versionAt([b, a], at(a.movedAt, 0))).toBe(1);
    expect(versionAt([b, a], at(b.movedAt, -1))).toBe(1);
    expect(versionAt([b, a], at(b.movedAt, 1000))).toBe(2);
  });

  it("stamps a move strictly after the alias's previous move, even when the clock lags", () => {
    const previous = move('promote', 1);
    const lagging = new Date(Date.parse(previous.movedAt) - 5000);
    expect(Date.parse(nextMoveTime(lagging, previous))).toBe(Date.parse(previous.movedAt) + 1);
    const later = new Date(Date.parse(previous.movedAt) + 5000);
    expect(nextMoveTime(later, previous)).toBe(later.toISOString());
  });

  it('adds the current alias record when its history object is not there yet', () => {
    const first = move('promote', 1);
    const second = move('promote', 2, 1);
    const current: AliasRecord = {
      model: 'iris',
      alias: 'champion',
      version: 2,
      previousVersion: 1,
      movedAt: second.movedAt,
      actor: 'test',
      reason: 'test',
    };
    expect(withCurrent([first], current)).toEqual([first, second]);
    expect(withCurrent([first, second], current)).toEqual([first, second]);
  });
});
