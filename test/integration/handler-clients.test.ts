import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * Each function's deps factory takes the SDK clients a caller already has, so a test or the local
 * platform need not point process.env at a local server: here no AWS_* variable is set at all,
 * and the stores still read the local server through the injected client.
 */
describe('the functions deps factories use injected SDK clients', () => {
  const saved = { ...process.env };
  let s3: TestS3;

  beforeAll(async () => {
    for (const name of Object.keys(process.env)) if (/^AWS_/.test(name)) delete process.env[name];
    s3 = await startTestS3(['data', 'models']);
    await s3.store('data').put('probe.txt', 'data bucket');
    await s3.store('models').put('probe.txt', 'model bucket');
  });

  afterAll(async () => {
    process.env = saved;
    await s3.close();
  });

  /** Each handler module builds its own deps from process.env when loaded: give it what it checks for. */
  async function load<T>(path: string, env: Record<string, string>): Promise<T> {
    const before = { ...process.env };
    Object.assign(process.env, env, { AWS_REGION: 'us-east-1', POWERTOOLS_METRICS_DISABLED: 'true' });
    try {
      return (await import(path)) as T;
    } finally {
      process.env = before;
    }
  }
  const text = (object: { body: Uint8Array } | undefined) => (object ? Buffer.from(object.body).toString('utf8') : '');

  test('pipeline: buildStepDeps(env, { s3 })', async () => {
    const { buildStepDeps } = await load<typeof import('../../lambdas/pipeline/handler')>(
      '../../lambdas/pipeline/handler',
      { DATA_BUCKET: 'data', MODEL_BUCKET: 'models' },
    );
    const deps = buildStepDeps({ DATA_BUCKET: 'data', MODEL_BUCKET: 'models' }, { s3: s3.client });
    expect(text(await deps.dataStore.get('probe.txt'))).toBe('data bucket');
    expect(text(await deps.modelStore.get('probe.txt'))).toBe('model bucket');
  });

  test('rollout: buildRolloutDeps(env, { s3 })', async () => {
    const { buildRolloutDeps } = await load<typeof import('../../lambdas/rollout/handler')>(
      '../../lambdas/rollout/handler',
      { MODEL_BUCKET: 'models' },
    );
    const deps = buildRolloutDeps({ MODEL_BUCKET: 'models' }, { s3: s3.client });
    expect(text(await deps.store.get('probe.txt'))).toBe('model bucket');
  });

  test('monitoring: buildMonitoringDeps(env, { s3 })', async () => {
    const env = {
      DATA_BUCKET: 'data',
      MODEL_BUCKET: 'models',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:1:stateMachine:x',
    };
    const { buildMonitoringDeps } = await load<typeof import('../../lambdas/monitoring/handler')>(
      '../../lambdas/monitoring/handler',
      env,
    );
    const deps = buildMonitoringDeps(env, { s3: s3.client });
    expect(text(await deps.dataStore.get('probe.txt'))).toBe('data bucket');
  });

  test('a misconfigured function fails with a named error', async () => {
    const rollout = await load<typeof import('../../lambdas/rollout/handler')>('../../lambdas/rollout/handler', {
      MODEL_BUCKET: 'models',
    });
    expect(() => rollout.buildRolloutDeps({})).toThrow(expect.objectContaining({ name: 'RolloutConfigError' }));
    const monitoring = await load<typeof import('../../lambdas/monitoring/handler')>(
      '../../lambdas/monitoring/handler',
      { DATA_BUCKET: 'data', MODEL_BUCKET: 'models', STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:1:stateMachine:x' },
    );
    expect(() => monitoring.buildMonitoringDeps({})).toThrow(
      expect.objectContaining({ name: 'MonitoringConfigError' }),
    );
  });
});
