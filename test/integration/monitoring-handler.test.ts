import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { monitoringReportKey } from '../../core/monitoring/contract';
import { setQuietHandlerEnv, startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * The monitoring Lambda's wiring: env, S3 clients over the local S3 server, the bundled specs, the
 * registry. (The job itself is tested in monitoring-job.test.ts.) Step Functions is mocked: a model
 * without a champion never reaches it.
 */

setQuietHandlerEnv('models');
type HandlerModule = typeof import('../../lambdas/monitoring/handler');

describe('monitoring handler', () => {
  let s3: TestS3;
  let handlerModule: HandlerModule;
  const sfn = mockClient(SFNClient);

  beforeAll(async () => {
    s3 = await startTestS3(['data', 'models']);
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: s3.server.endpoint,
      DATA_BUCKET: 'data',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:retrain',
    });
    handlerModule = await import('../../lambdas/monitoring/handler');
  });
  afterAll(async () => {
    for (const name of ['AWS_ENDPOINT_URL', 'DATA_BUCKET', 'STATE_MACHINE_ARN']) delete process.env[name];
    sfn.restore();
    await s3.close();
  });

  test('a scheduled tick for a bundled model without a champion writes a not-judged report and returns its summary', async () => {
    const before = Date.now();
    const summary = (await handlerModule.handler({ model: 'iris' })) as {
      reportKey: string;
      judged: boolean;
      retrain: { started: boolean; reason: string };
    };
    expect(summary).toMatchObject({
      model: 'iris',
      records: 0,
      judged: false,
      drifted: [],
      retrain: { started: false, reason: 'not judged: the model has no champion to compare with' },
    });
    expect(summary.reportKey >= monitoringReportKey('iris', new Date(before))).toBe(true);
    expect(await s3.store('data').get(summary.reportKey)).toBeDefined();
    expect(sfn.calls()).toHaveLength(0);
  });

  test('refuses an event without a model', async () => {
    await expect(handlerModule.handler({ source: 'aws.events' })).rejects.toThrow(
      'monitoring event must be { "model": "<name>" }',
    );
  });

  test('fails at init naming every missing variable', () => {
    expect(() => handlerModule.buildMonitoringDeps({})).toThrow(
      'monitoring function is misconfigured: DATA_BUCKET, MODEL_BUCKET, STATE_MACHINE_ARN must be set',
    );
  });
});
