import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { StepRequest } from '../../core/pipeline/contract';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { ModelRegistry } from '../../core/registry/registry';
import type { StepDeps } from '../../lambdas/pipeline/deps';
import { processedKey, processedReportKey } from '../../lambdas/pipeline/keys';
import { createStepRunner } from '../../lambdas/pipeline/runner';
import { RetrainingPipeline } from '../../lib/constructs/retraining-pipeline';
import { SNS_PUBLISH } from '../../local/local-pipeline';
import {
  allStates,
  type JsonValue,
  placeholderArn,
  renderedDefinition,
  runStateMachine,
} from '../../local/state-machine';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

const SPECS_DIR = join(__dirname, '..', '..', 'config', 'models');

/** The synthesised definition run by the local ASL interpreter, its Lambda task bound to the real step runner. */
describe('a failed run records its typed error name and category', () => {
  let store: TestS3;
  let deps: StepDeps;
  let scratch: string;
  const notices: string[] = [];
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Pipeline');
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    dataBucket: new s3.Bucket(stack, 'DataBucket'),
    modelBucket: new s3.Bucket(stack, 'ModelBucket'),
    models: [{ name: 'iris' }],
  });
  const definition = renderedDefinition(stack, pipeline.stateMachine);
  const fnArn = placeholderArn(stack, pipeline.fn);
  // Neither run gets as far as training: any other Task (the managed engine's ECS task) must not run.
  const otherTasks = Object.fromEntries(
    allStates(definition as never)
      .map(([, state]) => String(state.Resource ?? ''))
      .filter((resource) => resource !== '' && resource !== fnArn && resource !== SNS_PUBLISH)
      .map((resource) => [
        resource,
        async (): Promise<never> => {
          throw new Error(`no run here reaches ${resource}`);
        },
      ]),
  );

  beforeAll(async () => {
    store = await startTestS3(['data', 'models']);
    scratch = mkdtempSync(join(tmpdir(), 'failure-record-'));
    const iris = loadModelSpecs(SPECS_DIR).find((s) => s.name === 'iris') as ModelSpec;
    const modelStore = store.store('models');
    deps = {
      dataStore: store.store('data'),
      modelStore,
      registry: new ModelRegistry(modelStore, new OnnxModelValidator()),
      specs: new Map([['iris', iris]]),
      clock: () => new Date(),
      tmpDir: scratch,
      dataBucket: 'data',
    };
  });

  afterAll(async () => {
    await store.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const run = (input: unknown, executionName: string) => {
    const runner = createStepRunner(deps);
    return runStateMachine(definition, input, {
      executionName,
      taskHandlers: {
        [fnArn]: (payload: JsonValue) =>
          // Step Functions sees a thrown error as { Error: error.name, Cause }: the interpreter does the same.
          runner((payload as { Payload?: StepRequest }).Payload ?? (payload as unknown as StepRequest)),
        [SNS_PUBLISH]: async (params) => {
          notices.push(JSON.stringify((params as { Message?: unknown }).Message));
          return {};
        },
        ...otherTasks,
      },
    });
  };

  const failureRecord = async (key: string) => {
    const object = await deps.modelStore.get(key);
    if (!object) throw new Error(`${key} was not written`);
    return JSON.parse(Buffer.from(object.body).toString('utf8')) as { error: { error: string; category: string } };
  };

  test('processed files that disagree on their columns: the run fails with DataContractError, category data', async () => {
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));
    const files = [
      {
        key: processedKey('iris', 'a.csv', '"aaaa"', at(1)),
        body: 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n',
      },
      {
        key: processedKey('iris', 'b.csv', '"bbbb"', at(2)),
        body: 'sepal_length,sepal_width,petal_length,species\n5.1,3.5,1.4,setosa\n',
      },
    ];
    for (const file of files) {
      await deps.dataStore.put(processedReportKey(file.key), JSON.stringify({ rowsKept: 1 }));
      await deps.dataStore.put(file.key, file.body);
    }

    const result = await run({ model: 'iris', trigger: 'schedule' }, 'schedule-iris-contract');

    expect(result).toMatchObject({ status: 'FAILED', error: 'DataContractError' });
    const record = await failureRecord('runs/iris/schedule-iris-contract/failure.json');
    expect(record.error).toMatchObject({ error: 'DataContractError', category: 'data' });
    // The notice carries the same name.
    expect(notices.at(-1)).toContain('DataContractError');
    for (const file of files) {
      await deps.dataStore.delete(file.key);
      await deps.dataStore.delete(processedReportKey(file.key));
    }
  });

  test('an upload event from another bucket: the run fails at Validate with PipelineInputError, category input, not retried', async () => {
    const calls: string[] = [];
    const runner = createStepRunner(deps);
    const result = await runStateMachine(
      definition,
      { trigger: 'upload', bucket: 'someone-elses', key: 'incoming/iris/a.csv', etag: '"cccc"' },
      {
        executionName: 'upload-iris-elsewhere',
        taskHandlers: {
          [fnArn]: (payload: JsonValue) => {
            const request = (payload as { Payload?: StepRequest }).Payload ?? (payload as unknown as StepRequest);
            calls.push(request.step);
            return runner(request);
          },
          [SNS_PUBLISH]: async () => ({}),
          ...otherTasks,
        },
      },
    );

    expect(result).toMatchObject({ status: 'FAILED', error: 'PipelineInputError' });
    expect(calls).toEqual(['validate', 'record-failure']);
    const record = await failureRecord('runs/iris/upload-iris-elsewhere/failure.json');
    expect(record.error).toMatchObject({ error: 'PipelineInputError', category: 'input' });
  });
});
