import { type GatePlan, judgeStep, poolCategories, type VariantStats } from '../../core/rollout/live-gate';

/** The rollout step gate: sample size, then error rate (z-test), p99 latency and prediction mix (chi-square). */

const PLAN: GatePlan = { minRequests: 200, alpha: 0.01, maxErrorRateIncrease: 0.01, maxP99Increase: 0.2 };

function stats(overrides: Partial<VariantStats> = {}): VariantStats {
  return {
    requests: 1000,
    serverErrors: 0,
    p99LatencyMs: 10,
    classCounts: { setosa: 330, versicolor: 340, virginica: 330 },
    ...overrides,
  };
}

const check = (verdict: ReturnType<typeof judgeStep>, name: string) => verdict.checks.find((c) => c.check === name);

describe('sample size', () => {
  test('is insufficient while either variant has answered fewer than minRequests, naming both counts', () => {
    const verdict = judgeStep(stats({ requests: 37 }), stats({ requests: 150 }), PLAN);
    expect(verdict).toMatchObject({ verdict: 'insufficient', checks: [] });
    expect(verdict.reason).toBe(
      'the canary answered 37 and the champion answered 150 of the 200 requests each variant needs to be judged',
    );
  });

  test('judges once both reach minRequests exactly', () => {
    expect(judgeStep(stats({ requests: 200 }), stats({ requests: 200 }), PLAN).verdict).toBe('pass');
  });
});

describe('server error rate: one-sided z-test of canary <= champion + maxErrorRateIncrease', () => {
  test('passes two variants without errors (the adjusted proportions keep the test defined)', () => {
    const verdict = judgeStep(stats(), stats(), PLAN);
    expect(verdict.verdict).toBe('pass');
    expect(check(verdict, 'error-rate')).toMatchObject({ outcome: 'pass', pValue: expect.any(Number) });
  });

  test("fails a canary whose error rate is clearly above the champion's plus the allowance", () => {
    const verdict = judgeStep(stats({ requests: 400, serverErrors: 20 }), stats({ requests: 4000 }), PLAN);
    expect(verdict.verdict).toBe('fail');
    expect(check(verdict, 'error-rate')?.pValue).toBeLessThan(0.01);
    expect(verdict.reason).toMatch(
      /^server error rate canary 20\/400 \(5\.00%\) vs champion 0\/4000 \(0\.00%\) is above the champion's \+ 1\.00% \(one-sided z-test, z = 3\.\d\d, p = .* < alpha 0\.01\)$/,
    );
  });

  test('fails a canary that failed every request even at the minimum sample', () => {
    const plan = { ...PLAN, minRequests: 20 };
    expect(judgeStep(stats({ requests: 20, serverErrors: 20 }), stats({ requests: 20 }), plan).verdict).toBe('fail');
  });

  test('does not fail on a rate above the allowance that the sample cannot tell from it (2.5% of 400)', () => {
    // 10/400 is 1.5 points above the 1-point allowance, but 400 requests cannot show that at alpha 0.01.
    const verdict = judgeStep(stats({ requests: 400, serverErrors: 10 }), stats({ requests: 4000 }), PLAN);
    expect(check(verdict, 'error-rate')).toMatchObject({ outcome: 'pass' });
    expect(check(verdict, 'error-rate')?.pValue).toBeGreaterThan(0.01);
    expect(check(verdict, 'error-rate')?.pValue).toBeLessThan(0.05);
  });

  test('the allowance is relative to the champion: both at 5% pass', () => {
    expect(
      judgeStep(stats({ requests: 2000, serverErrors: 100 }), stats({ requests: 2000, serverErrors: 100 }), PLAN)
        .verdict,
    ).toBe('pass');
  });

  test('counts more errors than requests (metrics read apart) as every request failed, not as a rate above 1', () => {
    const verdict = judgeStep(stats({ requests: 200, serverErrors: 205 }), stats(), PLAN);
    expect(verdict.reason).toMatch(/canary 200\/200 \(100\.00%\)/);
  });
});

describe('p99 latency: canary <= champion x (1 + maxP99Increase) + 5 ms', () => {
  test('passes at the limit and fails above it', () => {
    expect(
      check(judgeStep(stats({ p99LatencyMs: 17 }), stats({ p99LatencyMs: 10 }), PLAN), 'p99-latency')?.outcome,
    ).toBe('pass');
    const slow = judgeStep(stats({ p99LatencyMs: 17.5 }), stats({ p99LatencyMs: 10 }), PLAN);
    expect(slow.verdict).toBe('fail');
    expect(slow.reason).toBe(
      'p99 latency 17.5 ms vs champion 10.0 ms (limit 17.0 ms = champion × 1.2 + 5 ms) is too slow',
    );
  });

  test('does not apply when a variant recorded no latency', () => {
    const verdict = judgeStep(stats({ p99LatencyMs: undefined }), stats(), PLAN);
    expect(check(verdict, 'p99-latency')).toMatchObject({
      outcome: 'not-applicable',
      detail: 'no latency recorded for the canary in the window',
    });
    expect(verdict.verdict).toBe('pass');
  });
});

describe('prediction distribution: chi-square test of homogeneity', () => {
  test('computes X² and its p-value on a 2 x 2 table as by hand', () => {
    // expected 25/15 in both rows: X² = 2 × (25/25 + 25/15) = 5.333, df 1, p = 0.0209
    const verdict = judgeStep(
      stats({ requests: 40, classCounts: { a: 30, b: 10 } }),
      stats({ requests: 40, classCounts: { a: 20, b: 20 } }),
      { ...PLAN, minRequests: 40 },
    );
    const result = check(verdict, 'prediction-distribution');
    expect(result?.statistic).toBeCloseTo(16 / 3, 10);
    expect(result?.pValue).toBeCloseTo(0.020921335337794, 8);
    expect(result?.outcome).toBe('pass');
    expect(
      check(
        judgeStep(
          stats({ requests: 40, classCounts: { a: 30, b: 10 } }),
          stats({ requests: 40, classCounts: { a: 20, b: 20 } }),
          { ...PLAN, minRequests: 40, alpha: 0.05 },
        ),
        'prediction-distribution',
      )?.outcome,
    ).toBe('fail');
  });

  test('passes the same mix of answers and fails a canary that answers one class far more often', () => {
    expect(
      judgeStep(stats({ classCounts: { setosa: 320, versicolor: 350, virginica: 330 } }), stats(), PLAN).verdict,
    ).toBe('pass');
    const shifted = judgeStep(stats({ classCounts: { setosa: 600, versicolor: 200, virginica: 200 } }), stats(), PLAN);
    expect(shifted.verdict).toBe('fail');
    expect(shifted.reason).toMatch(
      /^predicted classes \(canary vs champion, 1000 and 1000 rows\): setosa 60\.00% vs 33\.00%, .*; chi-square \d+\.\d\d, df 2, p = .* < alpha 0\.01: the canary answers differently$/,
    );
  });

  test('a class only one variant predicts counts (a canary that invents an answer is different)', () => {
    const verdict = judgeStep(
      stats({ classCounts: { setosa: 200, versicolor: 340, virginica: 330, other: 130 } }),
      stats(),
      PLAN,
    );
    expect(check(verdict, 'prediction-distribution')).toMatchObject({ outcome: 'fail' });
  });

  test('does not apply when everything falls into one class, or a variant predicted nothing', () => {
    expect(
      check(
        judgeStep(stats({ classCounts: { a: 1000 } }), stats({ classCounts: { a: 1000 } }), PLAN),
        'prediction-distribution',
      )?.outcome,
    ).toBe('not-applicable');
    expect(check(judgeStep(stats({ classCounts: {} }), stats(), PLAN), 'prediction-distribution')?.detail).toBe(
      'no predictions recorded for the canary in the window',
    );
  });
});

describe('poolCategories', () => {
  test('leaves classes that expect at least 5 in both rows alone, and drops classes nobody predicted', () => {
    const pooled = poolCategories(
      [
        { label: 'a', canary: 50, champion: 50 },
        { label: 'b', canary: 50, champion: 50 },
        { label: 'c', canary: 0, champion: 0 },
      ],
      100,
      100,
    );
    expect(pooled.map((c) => c.label)).toEqual(['a', 'b']);
  });

  test('pools the rare classes, smallest first, until the pool expects at least 5 too', () => {
    // 404 rows, the smaller row 201: a category needs 5 × 404 / 201 = 10.05 rows.
    const classes = [
      { label: 'a', canary: 100, champion: 100 },
      { label: 'b', canary: 100, champion: 100 },
      { label: 'c', canary: 1, champion: 0 },
      { label: 'd', canary: 2, champion: 1 },
      { label: 'e', canary: 8, champion: 4 },
    ];
    expect(poolCategories(classes, 211, 205)).toEqual([
      { label: 'c + d + e', canary: 11, champion: 5 },
      { label: 'a', canary: 100, champion: 100 },
      { label: 'b', canary: 100, champion: 100 },
    ]);
  });
});

test('a failing step names every failed check', () => {
  const verdict = judgeStep(
    stats({ requests: 400, serverErrors: 40, p99LatencyMs: 100 }),
    stats({ requests: 4000 }),
    PLAN,
  );
  expect(verdict.verdict).toBe('fail');
  expect(verdict.reason.split('; ').map((part) => part.split(' ')[0])).toEqual(['server', 'p99']);
});
