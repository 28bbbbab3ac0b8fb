import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { StepRequest } from '../../core/pipeline/contract';
import { DataContractError } from '../../core/pipeline/errors';
import { loggedStepRunner, stepLogKeys } from '../../lambdas/pipeline/step-log';
import { rolloutLogKeys } from '../../lambdas/rollout/log-keys';
import { loggedRunner } from '../../lambdas/shared/logged-runner';

/** Every JSON line the Logger writes while `act` runs (Powertools writes to process.stdout and stderr). */
async function captureLines(act: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }),
  );
  try {
    await act().catch(() => undefined);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const context = {
  awsRequestId: 'req-123',
  functionName: 'RetrainingFunction',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:RetrainingFunction',
  memoryLimitInMB: '3008',
} as unknown as Context;

const newLogger = () => new Logger({ serviceName: 'mlops-pipeline', logLevel: 'INFO' });

describe('the pipeline function logs each step with the run correlation keys', () => {
  test('a finished step: one JSON line with model, execution, runId, step, the Lambda request id and the version made', async () => {
    const request: StepRequest = {
      step: 'register',
      input: { model: 'iris', execution: 'upload-iris-abc', trigger: 'upload', prepare: { runId: 'upload-iris-abc' } },
    };
    const run = loggedStepRunner(async () => ({ version: 7, alias: 'champion' }), newLogger());

    const lines = await captureLines(() => run(request, context));

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'step finished',
      service: 'mlops-pipeline',
      step: 'register',
      model: 'iris',
      execution: 'upload-iris-abc',
      runId: 'upload-iris-abc',
      version: 7,
      function_request_id: 'req-123',
    });
  });

  test("a failed step: an ERROR line naming the error's class (what Step Functions routes on), and the error is rethrown", async () => {
    const run = loggedStepRunner(async () => {
      throw new DataContractError('processed files disagree');
    }, newLogger());
    const request: StepRequest = {
      step: 'train',
      input: { model: 'iris', runId: 'run-9', algorithm: 'lr', seed: 1, dataManifestKey: 'runs/iris/run-9/data.json' },
    };

    let thrown: unknown;
    const lines = await captureLines(() =>
      run(request, context).catch((error: unknown) => {
        thrown = error;
      }),
    );

    expect(thrown).toBeInstanceOf(DataContractError);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'ERROR',
      message: 'step failed',
      step: 'train',
      model: 'iris',
      runId: 'run-9',
      algorithm: 'lr',
      errorName: 'DataContractError',
      errorMessage: 'processed files disagree',
      function_request_id: 'req-123',
    });
  });

  test("a warm environment's next step does not inherit the previous step's keys", async () => {
    const logger = newLogger();
    const run = loggedStepRunner(async () => ({}), logger);
    await captureLines(() => run({ step: 'train', input: { model: 'iris', runId: 'r', algorithm: 'lr' } }, context));

    const lines = await captureLines(() => run({ step: 'validate', input: { model: 'wine', execution: 'e2' } }));

    expect(lines[0]).toMatchObject({ step: 'validate', model: 'wine', execution: 'e2' });
    expect(lines[0]).not.toHaveProperty('algorithm');
    expect(lines[0]).not.toHaveProperty('runId');
  });

  test('steps running at once in one process (the local function process) keep their own keys', async () => {
    const run = loggedStepRunner(
      (request) => new Promise((resolve) => setTimeout(() => resolve({}), request.step === 'train' ? 20 : 1)),
      newLogger(),
    );
    const lines = await captureLines(() =>
      Promise.all([
        run({ step: 'train', input: { model: 'iris', runId: 'r', algorithm: 'gbdt' } }),
        run({ step: 'train', input: { model: 'iris', runId: 'r', algorithm: 'lr' } }),
      ]),
    );
    expect(lines.map((l) => l.algorithm).sort()).toEqual(['gbdt', 'lr']);
  });

  test('record-failure is correlated by the failed state it records', () => {
    expect(
      stepLogKeys({
        step: 'record-failure',
        input: { state: { model: 'iris', execution: 'x', prepare: { runId: 'x' } }, error: { Error: 'DataError' } },
      }),
    ).toEqual({ step: 'record-failure', model: 'iris', execution: 'x', runId: 'x' });
  });
});

describe('the rollout function logs each step with its rollout keys', () => {
  test('a judge step: model and canary version from the rollout state, the execution and the request id', async () => {
    const event = {
      step: 'judge',
      execution: 'rollout-iris-3',
      input: { rollout: { model: 'iris', version: 3, rolloutId: 'r1', champion: 2 } },
    };
    const run = loggedRunner(async () => ({ verdict: 'advance' }), newLogger(), rolloutLogKeys);

    const lines = await captureLines(() => run(event, context));

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      message: 'step finished',
      step: 'judge',
      execution: 'rollout-iris-3',
      model: 'iris',
      version: 3,
      function_request_id: 'req-123',
    });
  });

  test('an alarm event is named by its alarm', () => {
    expect(rolloutLogKeys({ source: 'aws.cloudwatch', detail: { alarmName: 'iris-canary-errors' } })).toEqual({
      step: 'alarm-abort',
      alarm: 'iris-canary-errors',
    });
  });
});
