import { join } from 'node:path';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { PlatformConfigError, platformConfig } from '../../lib/config';

const SPECS = loadModelSpecs(join(__dirname, '../../config/models'));

function problemsOf(raw: unknown): readonly string[] {
  try {
    platformConfig(raw, SPECS);
  } catch (error) {
    if (error instanceof PlatformConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('platform configuration (cdk.json context "platform")', () => {
  test('no context gives the production defaults', () => {
    const config = platformConfig(undefined, SPECS);
    expect(config.storage).toEqual({
      terminationProtection: true,
      noncurrentVersionExpirationDays: 90,
      captureRetentionDays: Object.fromEntries(SPECS.map((s) => [s.name, 30])),
    });
    expect(config.inference.logRetention).toBe(30);
    expect(config.inference.auth).toBeUndefined();
    expect(config.pipeline.maxConcurrency).toBe(5);
    expect(config.monitoring.models).toEqual(
      expect.arrayContaining([
        {
          name: 'ai4i2020',
          gateMetric: 'macroF1',
          schedule: 'cron(0 3 ? * MON *)',
          monitoring: { driftThreshold: 0.25 },
        },
      ]),
    );
  });

  test('values reach the stacks typed: durations, retention, auth, thresholds', () => {
    const config = platformConfig(
      {
        defaultModel: 'iris',
        terminationProtection: false,
        logRetentionDays: 90,
        inference: { memorySize: 2048, modelTtlSeconds: 30, throttling: { rateLimit: 50, burstLimit: 100 } },
        pipeline: { memorySize: 4096, timeoutMinutes: 10, maxConcurrency: 8 },
        rollout: { memorySize: 512, timeoutSeconds: 120 },
        auth: { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc', audience: ['client-1'] },
        cors: { allowOrigins: ['https://app.example.com', 'http://localhost:5173'] },
        alarms: { api5xxRatePercent: 2 },
        alarmEmail: 'ops@example.com',
      },
      SPECS,
    );
    expect(config.inference).toMatchObject({
      defaultModel: 'iris',
      memorySize: 2048,
      throttling: { rateLimit: 50, burstLimit: 100 },
      auth: { audience: ['client-1'] },
      logRetention: 90,
    });
    expect(config.inference.cors).toEqual({ allowOrigins: ['https://app.example.com', 'http://localhost:5173'] });
    expect(config.inference.modelTtl?.toSeconds()).toBe(30);
    expect(config.pipeline.timeout?.toMinutes()).toBe(10);
    expect(config.pipeline).toMatchObject({ memorySize: 4096, maxConcurrency: 8 });
    expect(config.rollout).toMatchObject({ memorySize: 512, logRetention: 90 });
    expect(config.rollout.timeout?.toSeconds()).toBe(120);
    expect(problemsOf({ rollout: { timeoutSeconds: 1, memory: 512 } })).toEqual([
      expect.stringMatching(/^platform\.rollout\.timeoutSeconds: /),
      expect.stringMatching(/^platform\.rollout: .*memory/),
    ]);
    expect(config.monitoring).toMatchObject({ thresholds: { api5xxRatePercent: 2 }, alarmEmail: 'ops@example.com' });
  });

  test('a -c platform=... JSON string is read like the cdk.json object', () => {
    expect(platformConfig('{"defaultModel":"sentiment"}', SPECS).inference.defaultModel).toBe('sentiment');
  });

  test('fails listing every problem at once, each naming its key', () => {
    const problems = problemsOf({
      defaultModel: 'nope',
      logRetentionDays: 31,
      inference: { memorySize: 64, maxBach: 5 },
      auth: { issuer: 'http://insecure', audience: [] },
      alarmEmail: 'not-an-email',
      alarms: { api5xx: 1 },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^platform\.logRetentionDays: must be one of CloudWatch's retention periods/),
        expect.stringMatching(/^platform\.inference\.memorySize: /),
        expect.stringMatching(/^platform\.inference: .*maxBach/),
        expect.stringMatching(/^platform\.auth\.issuer: /),
        expect.stringMatching(/^platform\.auth\.audience: /),
        expect.stringMatching(/^platform\.alarmEmail: /),
        expect.stringMatching(/^platform\.alarms(\.api5xx)?: /),
      ]),
    );
  });

  test.each([0, 41, 2.5, '5', null])(
    'refuses pipeline.maxConcurrency = %p, saying what fits and what it got',
    (value) => {
      expect(problemsOf({ pipeline: { maxConcurrency: value } })).toEqual([
        `platform.pipeline.maxConcurrency: must be a whole number of candidates trained at once from 1 to 40 (Step Functions runs at most 40 inline Map iterations at once; 0, "unlimited", is refused: one run could take all of the account's Lambda concurrency), got ${JSON.stringify(value)}`,
      ]);
    },
  );

  test('fails when the default model or a SageMaker-served model has no spec', () => {
    expect(
      problemsOf({ defaultModel: 'nope', inference: { sagemakerEndpoints: { ghost: 'ghost-endpoint' } } }),
    ).toEqual([
      expect.stringMatching(/^platform\.defaultModel: "nope" has no spec in config\/models \(have: .*iris/),
      expect.stringMatching(/^platform\.inference\.sagemakerEndpoints: "ghost" has no spec/),
    ]);
  });

  test('fails on a context value that is not JSON', () => {
    expect(problemsOf('{defaultModel: iris}')).toEqual([expect.stringMatching(/^platform: must be a JSON object/)]);
  });
});
