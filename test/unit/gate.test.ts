import { decidePromotion, type GateConfig } from '../../core/pipeline/gate';

const gate: GateConfig = { metric: 'macroF1', margin: 0.005, floor: 0.9 };
const scored = (macroF1: number, accuracy = 0.95) => ({ metrics: { macroF1, accuracy } });
const champion = (macroF1: number) => ({ version: 3, ...scored(macroF1) });

describe('decidePromotion', () => {
  test('promotes the first model when it clears the floor', () => {
    const decision = decidePromotion({ candidate: scored(0.93), gate });
    expect(decision).toEqual({
      promote: true,
      reason: 'macroF1 0.9300 clears the floor 0.9 and there is no champion yet',
      metric: 'macroF1',
      candidateScore: 0.93,
      championScore: undefined,
      margin: 0.005,
    });
  });

  test('rejects the first model below the floor', () => {
    const decision = decidePromotion({ candidate: scored(0.85), gate });
    expect(decision.promote).toBe(false);
    expect(decision.reason).toBe('macroF1 0.8500 is below the floor 0.9');
  });

  test('promotes a candidate that beats the champion by more than the margin', () => {
    const decision = decidePromotion({ candidate: scored(0.96), champion: champion(0.95), gate });
    expect(decision.promote).toBe(true);
    expect(decision.championScore).toBe(0.95);
    expect(decision.reason).toBe("macroF1 0.9600 beats champion v3's 0.9500 by at least the margin 0.005");
  });

  test('rejects a candidate equal to the champion', () => {
    const decision = decidePromotion({ candidate: scored(0.95), champion: champion(0.95), gate });
    expect(decision.promote).toBe(false);
    expect(decision.reason).toBe("macroF1 0.9500 does not beat champion v3's 0.9500 by the margin 0.005");
  });

  test('rejects a worse candidate, with the reason shown for rejected challengers', () => {
    const decision = decidePromotion({ candidate: scored(0.9512), champion: champion(0.9534), gate });
    expect(decision.promote).toBe(false);
    expect(decision.reason).toBe("macroF1 0.9512 does not beat champion v3's 0.9534 by the margin 0.005");
  });

  test('rejects a candidate below the floor even when it beats a weaker champion', () => {
    const decision = decidePromotion({ candidate: scored(0.88), champion: champion(0.8), gate });
    expect(decision.promote).toBe(false);
    expect(decision.reason).toBe('macroF1 0.8800 is below the floor 0.9');
  });

  test('a candidate exactly at the margin is promoted despite float rounding (0.9 + 0.05)', () => {
    const wide = { metric: 'macroF1', margin: 0.05, floor: 0.5 } as const;
    expect(decidePromotion({ candidate: scored(0.95), champion: champion(0.9), gate: wide }).promote).toBe(true);
    expect(decidePromotion({ candidate: scored(0.9499), champion: champion(0.9), gate: wide }).promote).toBe(false);
  });

  test('a candidate exactly at the floor is promoted', () => {
    expect(decidePromotion({ candidate: scored(0.9), gate }).promote).toBe(true);
  });

  test('compares on the configured metric', () => {
    const byAccuracy: GateConfig = { metric: 'accuracy', margin: 0, floor: 0.5 };
    const decision = decidePromotion({
      candidate: scored(0.5, 0.97),
      champion: { version: 1, ...scored(0.99, 0.96) },
      gate: byAccuracy,
    });
    expect(decision).toMatchObject({ promote: true, metric: 'accuracy', candidateScore: 0.97, championScore: 0.96 });
  });

  test('never promotes a candidate whose score is not a number', () => {
    const decision = decidePromotion({ candidate: scored(Number.NaN), gate });
    expect(decision.promote).toBe(false);
    expect(decision.reason).toBe('macroF1 of the candidate is not a number (NaN)');
  });

  test('a champion without a usable score does not block a candidate that clears the floor', () => {
    const decision = decidePromotion({ candidate: scored(0.93), champion: champion(Number.NaN), gate });
    expect(decision.promote).toBe(true);
    expect(decision.reason).toMatch(/champion v3 has no usable macroF1/);
  });
});
