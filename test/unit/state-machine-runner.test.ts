import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type {
  CandidateResult,
  EvaluationResult,
  PrepareResult,
  StepRequest,
  TrainItem,
  ValidationResult,
} from '../../core/pipeline/contract';
import { RetrainingPipeline } from '../../lib/constructs/retraining-pipeline';
import { type JsonValue, placeholderArn, renderedDefinition, runStateMachine } from '../../local/state-machine';

import { SNS_PUBLISH } from '../../local/local-pipeline';
import { ECS_RUN_TASK_SYNC } from '../../local/managed-task';

/** The real RetrainingPipeline's definition (bundling skipped) and the ARNs its tasks name. */
function synthesise() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Pipeline');
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    dataBucket: new s3.Bucket(stack, 'DataBucket'),
    modelBucket: new s3.Bucket(stack, 'ModelBucket'),
    models: [{ name: 'iris' }],
  });
  return {
    definition: renderedDefinition(stack, pipeline.stateMachine),
    fnArn: placeholderArn(stack, pipeline.fn),
    topicArn: placeholderArn(stack, pipeline.topic),
  };
}

const candidate = (algorithm: string, f1: number): CandidateResult => ({
  algorithm,
  candidatePrefix: `runs/iris/run-1/candidates/${algorithm}/`,
  params: {},
  validation: { accuracy: f1, macroF1: f1 },
  holdout: { accuracy: f1, macroF1: f1 },
  fitSeconds: 0.1,
  parameters: 15,
  selection: '5-fold cross-validation',
  warnings: [],
});

/** A small stand-in for lambdas/pipeline: contract-shaped results, and a record of every call. */
function fakeSteps(
  options: {
    validation?: ValidationResult;
    promote?: boolean;
    failing?: string;
    errorName?: string;
    engine?: PrepareResult['engine'];
  } = {},
) {
  const calls: StepRequest[] = [];
  const dispatch = async (payload: JsonValue): Promise<unknown> => {
    const request = payload as unknown as StepRequest;
    calls.push(request);
    if (request.step === options.failing)
      throw Object.assign(new Error(`${request.step} hit a Lambda service error`), {
        name: options.errorName ?? 'Lambda.ServiceException',
      });
    switch (request.step) {
      case 'validate':
        return (
          options.validation ?? {
            status: 'clean',
            processedKey: 'processed/iris/a.csv',
            reportKey: 'processed/iris/a.report.json',
            dataSha256: 'abc',
            rows: 150,
            duplicateRows: 0,
          }
        );
      case 'prepare':
        return {
          runId: 'run-1',
          dataManifestKey: 'runs/iris/run-1/data.json',
          dataSha256: 'abc',
          files: 1,
          rows: 150,
          algorithms: ['lr', 'gbdt'],
          seed: 42,
          engine: options.engine ?? 'lambda',
          engineReason: 'test',
        } satisfies PrepareResult;
      case 'train':
      case 'read-candidate': {
        const item = request.input as TrainItem;
        return candidate(item.algorithm, item.algorithm === 'gbdt' ? 0.97 : 0.93);
      }
      case 'evaluate':
        return {
          best: candidate('gbdt', 0.97),
          selection: 'gbdt has the best selection score',
          candidate: { accuracy: 0.97, macroF1: 0.97 },
          champion: { version: 2, holdout: { accuracy: 0.9, macroF1: 0.9 } },
          comparison: { basis: 'shared-split', rows: 30, rowsKey: 'runs/iris/run-1/comparison-rows.txt' },
          decision: { promote: options.promote ?? true, reason: 'test' },
        } satisfies EvaluationResult;
      case 'register': {
        const promoted = (request.input as { evaluation: EvaluationResult }).evaluation.decision.promote;
        return { version: 3, alias: promoted ? 'champion' : 'challenger', promoted };
      }
      case 'record-failure':
        return { recorded: true };
    }
  };
  return { calls, dispatch, steps: () => calls.map((c) => c.step) };
}

describe('runStateMachine with the synthesised retraining pipeline', () => {
  const { definition, fnArn, topicArn } = synthesise();
  const upload = { trigger: 'upload', bucket: 'data', key: 'incoming/iris/a.csv', etag: 'e1' };

  async function run(input: object, steps: ReturnType<typeof fakeSteps>) {
    const notices: { TopicArn: string; Subject: string; Message: Record<string, unknown> }[] = [];
    const entered: string[] = [];
    const tasks: JsonValue[] = [];
    const result = await runStateMachine(definition, input, {
      executionName: 'exec-1',
      onStateEntered: (name) => entered.push(name),
      taskHandlers: {
        [fnArn]: steps.dispatch,
        [ECS_RUN_TASK_SYNC]: async (params) => {
          tasks.push(params);
          return { LastStatus: 'STOPPED' };
        },
        [SNS_PUBLISH]: async (params) => {
          notices.push(params as unknown as (typeof notices)[number]);
          return { MessageId: `m${notices.length}` };
        },
      },
    });
    return { result, notices, entered, tasks };
  }

  test('an upload runs every step and registers the new version as champion', async () => {
    const steps = fakeSteps({ promote: true });
    const { result, notices, entered } = await run(upload, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(steps.steps()).toEqual(['validate', 'prepare', 'train', 'train', 'evaluate', 'register']);
    expect(entered).toContain('RegisterChampion');
    expect(steps.calls[0].input).toEqual({
      ...upload,
      model: 'iris',
      execution: 'exec-1',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const output = (result as { output: Record<string, unknown> }).output;
    expect(output.registration).toEqual({ version: 3, alias: 'champion', promoted: true });
    expect(output.candidates).toHaveLength(2);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      TopicArn: topicArn,
      Subject: 'Retraining finished',
      Message: { model: 'iris', execution: 'exec-1', registration: { alias: 'champion' } },
    });
  });

  test('the Map trains once per algorithm with the TrainItem the contract defines', async () => {
    const steps = fakeSteps();
    await run(upload, steps);
    const items = steps.calls.filter((c) => c.step === 'train').map((c) => c.input);
    expect(items).toEqual([
      { model: 'iris', runId: 'run-1', dataManifestKey: 'runs/iris/run-1/data.json', seed: 42, algorithm: 'lr' },
      { model: 'iris', runId: 'run-1', dataManifestKey: 'runs/iris/run-1/data.json', seed: 42, algorithm: 'gbdt' },
    ]);
  });

  test('a candidate that loses the gate is registered as challenger', async () => {
    const steps = fakeSteps({ promote: false });
    const { result, entered } = await run({ model: 'iris', trigger: 'schedule' }, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(entered).toContain('RegisterChallenger');
    expect(entered).not.toContain('ModelFromKey');
    expect(steps.calls[0].input).toEqual({
      model: 'iris',
      trigger: 'schedule',
      execution: 'exec-1',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((result as { output: Record<string, unknown> }).output.registration).toEqual({
      version: 3,
      alias: 'challenger',
      promoted: false,
    });
  });

  test('an upload holding only rows already processed ends Succeeded in NoNewData, without training or a notice', async () => {
    const validation: ValidationResult = {
      status: 'no-new-data',
      reportKey: 'processed/iris/a.report.json',
      rowsIn: 150,
      duplicateRows: 150,
      runKey: 'runs/iris/exec-1/no-new-data.json',
    };
    const steps = fakeSteps({ validation });
    const { result, notices, entered } = await run(upload, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(entered).toContain('NoNewData');
    expect(steps.steps()).toEqual(['validate']);
    expect(notices).toHaveLength(0);
  });

  test('a folder marker ends Succeeded in Ignored, without training', async () => {
    const steps = fakeSteps({
      validation: { status: 'ignored', reason: 'incoming/iris/ is a folder marker, not a data file' },
    });
    const { result, entered } = await run({ ...upload, key: 'incoming/iris/' }, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(entered).toContain('Ignored');
    expect(steps.steps()).toEqual(['validate']);
  });

  test('a quarantined upload ends Succeeded in Quarantined after the quarantine notice, without training (bad data is not a failed run)', async () => {
    const validation: ValidationResult = {
      status: 'quarantined',
      quarantineKey: 'quarantine/iris/a.csv',
      reportKey: 'quarantine/iris/a.report.json',
      problems: ['column x is missing'],
    };
    const steps = fakeSteps({ validation });
    const { result, notices } = await run(upload, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(steps.steps()).toEqual(['validate']);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      Subject: 'Upload quarantined',
      Message: { model: 'iris', quarantineKey: 'quarantine/iris/a.csv', problems: ['column x is missing'] },
    });
  });

  test('a step that keeps failing is retried, then recorded, notified and the run fails with its error', async () => {
    const steps = fakeSteps({ failing: 'evaluate' });
    const { result, notices } = await run(upload, steps);
    expect(result).toMatchObject({ status: 'FAILED', error: 'Lambda.ServiceException' });
    expect(steps.steps().filter((s) => s === 'evaluate')).toHaveLength(4);
    const record = steps.calls.find((c) => c.step === 'record-failure');
    expect(record?.input).toMatchObject({
      state: { model: 'iris', execution: 'exec-1' },
      error: { Error: 'Lambda.ServiceException' },
    });
    expect(notices.map((n) => n.Subject)).toEqual(['Retraining failed']);
  });

  test("a step's own error is not retried: it goes straight to the failure path", async () => {
    const steps = fakeSteps({ failing: 'prepare', errorName: 'DataContractError' });
    const { result } = await run(upload, steps);
    expect(result).toMatchObject({ status: 'FAILED', error: 'DataContractError' });
    expect(steps.steps()).toEqual(['validate', 'prepare', 'record-failure']);
  });

  test('a failing training item fails the Map and takes the failure path', async () => {
    const steps = fakeSteps({ failing: 'train' });
    const { result } = await run(upload, steps);
    expect(result).toMatchObject({ status: 'FAILED', error: 'Lambda.ServiceException' });
    expect(steps.steps()).toContain('record-failure');
    expect(steps.steps()).not.toContain('evaluate');
  });

  test('a run whose Prepare chose the managed engine trains each candidate in an ECS task, then evaluates and registers as usual', async () => {
    const steps = fakeSteps({ engine: 'managed' });
    const { result, entered, tasks } = await run(upload, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(entered).toContain('TrainCandidatesManaged');
    expect(entered).not.toContain('TrainCandidates');
    expect(steps.steps()).not.toContain('train');
    expect(steps.steps().filter((s) => s === 'read-candidate')).toHaveLength(2);
    expect(steps.steps().slice(-2)).toEqual(['evaluate', 'register']);
    // Each task gets its Map item as TRAIN_ITEM, the input the Lambda train step would get.
    const items = tasks.map((t) => {
      const env = (t as { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } })
        .Overrides.ContainerOverrides[0].Environment;
      return JSON.parse(env.find((e) => e.Name === 'TRAIN_ITEM')?.Value ?? 'null') as TrainItem;
    });
    expect(items.map((i) => i.algorithm).sort()).toEqual(['gbdt', 'lr']);
    expect(items[0]).toMatchObject({
      model: 'iris',
      runId: 'run-1',
      dataManifestKey: 'runs/iris/run-1/data.json',
      seed: 42,
    });
    const evaluate = steps.calls.find((c) => c.step === 'evaluate')?.input as { candidates: CandidateResult[] };
    expect(evaluate.candidates.map((c) => c.algorithm)).toEqual(['lr', 'gbdt']);
  });

  test('a run on the Lambda engine starts no ECS task', async () => {
    const steps = fakeSteps({ engine: 'lambda' });
    const { result, tasks, entered } = await run(upload, steps);
    expect(result.status).toBe('SUCCEEDED');
    expect(tasks).toEqual([]);
    expect(entered).toContain('TrainCandidates');
    expect(steps.steps().filter((s) => s === 'train')).toHaveLength(2);
  });

  test('fails fast when a Task resource has no local handler', async () => {
    await expect(
      runStateMachine(definition, upload, { taskHandlers: { [SNS_PUBLISH]: async () => ({}) } }),
    ).rejects.toThrow(/Task state "Validate" uses .* which has no local handler/);
  });
});
