import { join } from 'node:path';
import { LOCAL_S3_CREDENTIALS } from '../../local/s3-server';
import { managedTaskHandler } from '../../local/managed-task';
import type { JsonValue } from '../../local/state-machine';
import { readCandidate } from '../../lambdas/pipeline/managed-train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import type { StepDeps } from '../../lambdas/pipeline/deps';

/**
 * The managed training task's unhappy paths, with the real entry point in a child process (as
 * `npm start` runs it) over the local S3 server: a task that cannot train fails the way
 * Step Functions reports a stopped ECS task (States.TaskFailed), with the trainer's one-line
 * reason as the cause, and read-candidate refuses an item whose task wrote nothing.
 */

jest.setTimeout(60_000);

const runTask = (env: Record<string, string>) =>
  ({
    Overrides: {
      ContainerOverrides: [
        { Name: 'trainer', Environment: Object.entries(env).map(([Name, Value]) => ({ Name, Value })) },
      ],
    },
  }) as unknown as JsonValue;

describe('the managed training task, locally', () => {
  let s3: TestS3;
  let env: Record<string, string>;
  const item = {
    model: 'iris',
    runId: 'run-1',
    dataManifestKey: 'runs/iris/run-1/data.json',
    seed: 42,
    algorithm: 'lr',
  };

  beforeAll(async () => {
    s3 = await startTestS3(['data', 'models']);
    env = {
      AWS_ENDPOINT_URL: s3.server.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DATA_BUCKET: 'data',
      MODEL_BUCKET: 'models',
      MODEL_SPECS_DIR: join(__dirname, '../../config/models'),
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
  });
  afterAll(() => s3.close());

  test('a malformed TRAIN_ITEM fails the task with States.TaskFailed naming the problem', async () => {
    const lines: string[] = [];
    const handler = managedTaskHandler({ env, onLine: (line) => lines.push(line) });
    await expect(handler(runTask({ TRAIN_ITEM: '{"model":"iris"' }))).rejects.toMatchObject({
      name: 'States.TaskFailed',
      message: expect.stringMatching(/exited with code 1: managed training failed: TRAIN_ITEM is not JSON/),
    });
    expect(lines.some((l) => l.includes('TRAIN_ITEM is not JSON'))).toBe(true);
  });

  test('a run whose data manifest is gone fails the task, and nothing is written for read-candidate to hand on', async () => {
    const handler = managedTaskHandler({ env });
    await expect(handler(runTask({ TRAIN_ITEM: JSON.stringify(item) }))).rejects.toMatchObject({
      name: 'States.TaskFailed',
      message: expect.stringMatching(/data manifest runs\/iris\/run-1\/data.json does not exist/),
    });
    const deps = { modelStore: s3.store('models') } as unknown as StepDeps;
    await expect(readCandidate(item, deps)).rejects.toMatchObject({
      name: 'MissingArtifactError',
      message: expect.stringMatching(/ended without writing runs\/iris\/run-1\/candidates\/lr\/candidate.json/),
    });
  });

  test('read-candidate refuses a result of another algorithm', async () => {
    await s3.store('models').put('runs/iris/run-2/candidates/lr/candidate.json', JSON.stringify({ algorithm: 'nb' }));
    const deps = { modelStore: s3.store('models') } as unknown as StepDeps;
    await expect(readCandidate({ ...item, runId: 'run-2' }, deps)).rejects.toThrow(/holds a candidate of nb, not lr/);
  });
});
