import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  RetrainingPipeline,
  type RetrainingPipelineProps,
  retrainingSettings,
} from '../../lib/constructs/retraining-pipeline';
import { allStates, renderedDefinition } from '../../local/state-machine';
import {
  algorithmLimit,
  REFERENCE_RESOURCES,
  scratchSpaceMb,
  TRAINING_CAPACITY,
} from '../../core/pipeline/training-capacity';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type AslState = ReturnType<typeof allStates>[number][1] & {
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
};

const MODELS = [
  { name: 'iris', schedule: 'rate(7 days)' },
  { name: 'sentiment' },
  { name: 'ai4i2020', schedule: 'cron(0 3 ? * MON *)' },
];

/** A stack holding one RetrainingPipeline; bundling is skipped (context) so the test runs in seconds. */
function synth(props: Partial<RetrainingPipelineProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Pipeline', { env: { account: '111122223333', region: 'eu-west-1' } });
  const dataBucket = new s3.Bucket(stack, 'DataBucket', { eventBridgeEnabled: true });
  const modelBucket = new s3.Bucket(stack, 'ModelBucket');
  const alarmTopic = new sns.Topic(stack, 'AlarmTopic');
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    dataBucket,
    modelBucket,
    models: MODELS,
    alarmTopic,
    ...props,
  });
  return { template: Template.fromStack(stack), stack, pipeline, alarmTopic };
}

const statements = (template: Template): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('RetrainingPipeline', () => {
  const { template, stack, pipeline } = synth();
  const definition = renderedDefinition(stack, pipeline.stateMachine) as {
    StartAt: string;
    States: Record<string, AslState>;
  };
  const states = allStates(definition) as [string, AslState][];

  test('the upload rule starts a run for objects created under incoming/ in the data bucket only', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.stringLikeRegexp('DataBucket') }] },
          object: { key: [{ prefix: 'incoming/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('StateMachine') },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('StartDeadLetterQueue'), 'Arn'] } },
          InputTransformer: Match.objectLike({
            InputPathsMap: {
              'detail-bucket-name': '$.detail.bucket.name',
              'detail-object-key': '$.detail.object.key',
              'detail-object-etag': '$.detail.object.etag',
            },
            InputTemplate: Match.stringLikeRegexp('"trigger":"upload"'),
          }),
        }),
      ],
    });
  });

  test('the start dead-letter queue is encrypted and refuses non-TLS access', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('every Task state, inside the Map too, has Retry and Catch', () => {
    const tasks = states.filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(
      [
        'Evaluate',
        'Notify',
        'NotifyFailure',
        'NotifyQuarantine',
        'Prepare',
        'RecordFailure',
        'RegisterChallenger',
        'RegisterChampion',
        'Train',
        // The managed engine's two Tasks (one ECS task per candidate, then its result): test/infra/managed-training.test.ts.
        'TrainManaged',
        'ReadCandidate',
        'Validate',
      ].sort(),
    );
    for (const [name, state] of tasks) {
      expect({ name, retry: (state.Retry ?? []).length > 0 }).toEqual({ name, retry: true });
      expect({ name, catchAll: state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL')) }).toEqual({
        name,
        catchAll: true,
      });
    }
  });

  type Retrier = {
    ErrorEquals: string[];
    IntervalSeconds?: number;
    BackoffRate?: number;
    MaxAttempts?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: string;
  };
  const lambdaSteps = states.filter(
    ([, s]) => s.Type === 'Task' && JSON.stringify(s.Resource ?? '').includes('lambda'),
  );

  test('every Lambda step may run as long as the function (15 minutes), not the States Language default of 60 s', () => {
    const map = definition.States.TrainCandidates as AslState & { ItemProcessor: { States: Record<string, AslState> } };
    const states = { ...definition.States, ...map.ItemProcessor.States };
    const steps = Object.values(states).filter(
      (state) => state.Type === 'Task' && JSON.stringify(state).includes('"step"'),
    );
    expect(steps.length).toBeGreaterThan(5);
    for (const state of steps) expect((state as AslState & { TimeoutSeconds?: number }).TimeoutSeconds).toBe(900);
  });

  test('Lambda steps retry Lambda transient errors briefly and send { step, input }', () => {
    const validate = definition.States.Validate as AslState & { Parameters: unknown; Retry: Retrier[] };
    expect(validate.Retry[0]).toMatchObject({
      ErrorEquals: expect.arrayContaining([
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
      ]),
      MaxAttempts: 3,
    });
    expect(validate.Retry[0].BackoffRate).toBeGreaterThan(1);
    expect(validate.Parameters).toEqual({ step: 'validate', 'input.$': '$' });
    expect(validate.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
  });

  test('every Lambda step, Train included, retries throttles on their own retrier, for minutes rather than seconds', () => {
    expect(lambdaSteps.map(([name]) => name)).toEqual(
      expect.arrayContaining(['Validate', 'Prepare', 'Train', 'Evaluate', 'RecordFailure']),
    );
    for (const [name, state] of lambdaSteps) {
      const retry = (state.Retry ?? []) as Retrier[];
      // Exactly one retrier takes throttles, and it is not the short one.
      const throttle = retry.filter((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
      expect({ name, throttle }).toEqual({
        name,
        throttle: [
          {
            ErrorEquals: ['Lambda.TooManyRequestsException'],
            IntervalSeconds: 5,
            BackoffRate: 2,
            MaxDelaySeconds: 60,
            MaxAttempts: 8,
            JitterStrategy: 'FULL',
          },
        ],
      });
      // The budget, without jitter: each wait capped by MaxDelaySeconds, summed over the attempts.
      const [r] = throttle;
      const budget = Array.from({ length: r.MaxAttempts ?? 0 }, (_, i) =>
        Math.min((r.IntervalSeconds ?? 0) * (r.BackoffRate ?? 1) ** i, r.MaxDelaySeconds ?? Infinity),
      ).reduce((a, b) => a + b, 0);
      expect(budget).toBeGreaterThanOrEqual(4 * 60);
      expect(budget).toBeLessThanOrEqual(10 * 60);
      // The other transient errors keep the short retry (about 14 s).
      const short = retry.find((r2) => r2.ErrorEquals.includes('Lambda.ServiceException'));
      expect({ name, short }).toEqual({
        name,
        short: expect.objectContaining({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3 }),
      });
    }
  });

  test('the Map trains one TrainItem per algorithm of $.prepare.algorithms', () => {
    const map = definition.States.TrainCandidates as AslState & Record<string, unknown>;
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.prepare.algorithms',
      ResultPath: '$.candidates',
      ItemSelector: {
        'model.$': '$.model',
        'runId.$': '$.prepare.runId',
        'dataManifestKey.$': '$.prepare.dataManifestKey',
        'seed.$': '$.prepare.seed',
        'algorithm.$': '$$.Map.Item.Value',
      },
      ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' } },
    });
  });

  test('the Map trains at most 5 candidates at once by default', () => {
    expect(definition.States.TrainCandidates).toMatchObject({ MaxConcurrency: 5 });
  });

  test("the Map's concurrency comes from the props", () => {
    const custom = synth({ maxConcurrency: 2 });
    const rendered = renderedDefinition(custom.stack, custom.pipeline.stateMachine) as {
      States: Record<string, unknown>;
    };
    expect(rendered.States.TrainCandidates).toMatchObject({ MaxConcurrency: 2 });
  });

  test('the state machine is Standard, logs every transition with execution data and is traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  test('an alarm fires on starts waiting in the dead-letter queue, to the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('StartDeadLetterQueue'), 'QueueName'] } },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  test('alarms fire on failed, throttled, aborted and timed-out executions, to the alarm topic', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionThrottled', 'ExecutionsAborted', 'ExecutionsTimedOut']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metric,
        Threshold: 0,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
      });
    }
  });

  test('the notification topic is encrypted', () => {
    const topic =
      template.findResources('AWS::SNS::Topic')[stack.getLogicalId(pipeline.topic.node.defaultChild as CfnElement)];
    expect(JSON.stringify(topic.Properties.KmsMasterKeyId)).toContain('alias/aws/sns');
  });

  test('the function has the pipeline defaults and is configured through its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      MemorySize: 3008,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          DATA_BUCKET: { Ref: Match.stringLikeRegexp('DataBucket') },
          MODEL_BUCKET: { Ref: Match.stringLikeRegexp('ModelBucket') },
          MODEL_SPECS_DIR: '/var/task/model-specs',
          STEP_TIMEOUT_SECONDS: '900',
        }),
      },
    });
  });

  test('/tmp holds the largest dataset a training step accepts at this memory (twice: snapshot and upload)', () => {
    const size = scratchSpaceMb(REFERENCE_RESOURCES);
    const largest = Math.max(
      ...Object.keys(TRAINING_CAPACITY.algorithms).map((a) => algorithmLimit(a, REFERENCE_RESOURCES)?.maxCells ?? 0),
    );
    expect(size * 2 ** 20).toBeGreaterThanOrEqual(2 * largest * TRAINING_CAPACITY.csvBytesPerCell);
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 3008, EphemeralStorage: { Size: size } });
  });

  test('grants name S3 actions and prefixes, never s3:* or *', () => {
    const all = statements(template);
    const actions = all.flatMap(actionsOf);
    expect(actions).not.toContain('*');
    expect(actions).not.toContain('s3:*');
    const resources = JSON.stringify(
      all.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:'))).map((s) => s.Resource),
    );
    for (const prefix of ['incoming/*', 'processed/*', 'quarantine/*', 'claims/*', 'registry/*', 'runs/*'])
      expect(resources).toContain(`/${prefix}`);
    expect(resources).not.toMatch(/"\/\*"/);
  });

  test('the model bucket cannot be deleted from', () => {
    const deletes = statements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:DeleteObject')));
    expect(deletes.length).toBeGreaterThan(0);
    expect(JSON.stringify(deletes.map((s) => s.Resource))).not.toMatch(/ModelBucket/);
  });

  test('each model with a schedule gets a scheduled start, and only those', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(7 days)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ model: 'iris', trigger: 'schedule' }) })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 ? * MON *)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ model: 'ai4i2020', trigger: 'schedule' }) })],
    });
    expect(
      Object.keys(
        template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: Match.anyValue() } }),
      ),
    ).toHaveLength(2);
    expect(Object.keys(pipeline.schedules).sort()).toEqual(['ai4i2020', 'iris']);
  });
});

describe('retrainingSettings', () => {
  const base = (): RetrainingPipelineProps => {
    const stack = new Stack();
    return {
      dataBucket: new s3.Bucket(stack, 'D'),
      modelBucket: new s3.Bucket(stack, 'M'),
      models: [{ name: 'iris' }],
    };
  };

  test('applies the defaults', () => {
    const settings = retrainingSettings(base());
    expect(settings.memorySize).toBe(3008);
    expect(settings.timeout.toMinutes()).toBe(15);
    expect(settings.maxConcurrency).toBe(5);
  });

  test.each<[string, Partial<RetrainingPipelineProps>, string]>([
    [
      "memory below Lambda's minimum",
      { memorySize: 64 },
      'memorySize must be a whole number of MB from 128 to 10240, got 64',
    ],
    [
      'a timeout over 15 minutes',
      { timeout: Duration.minutes(20) },
      "timeout must be whole seconds from 1 s to 15 minutes (Lambda's limit), got 1200 s",
    ],
    ['no models', { models: [] }, 'models must list at least one model'],
    ['an invalid model name', { models: [{ name: 'Iris!' }] }, 'model name "Iris!" is not valid'],
    ['a model listed twice', { models: [{ name: 'iris' }, { name: 'iris' }] }, '"iris" is listed twice'],
    [
      'a malformed schedule',
      { models: [{ name: 'iris', schedule: 'rate(1 days)' }] },
      'the schedule of "iris" must use the singular unit for 1 ("rate(1 day)")',
    ],
    [
      'no concurrency',
      { maxConcurrency: 0 },
      'maxConcurrency must be a whole number of candidates trained at once from 1 to 40',
    ],
    [
      'more concurrency than an inline Map runs',
      { maxConcurrency: 41 },
      'Step Functions runs at most 40 inline Map iterations at once), got 41',
    ],
    [
      'a missing specs folder',
      { modelSpecsDir: '/no/such/folder' },
      'modelSpecsDir must be an existing folder of model specs, got /no/such/folder',
    ],
  ])('fails when given %s', (_case, props, message) => {
    expect(() => retrainingSettings({ ...base(), ...props })).toThrow(message);
  });

  test('the construct validates before building anything', () => {
    expect(() => synth({ memorySize: 20000 })).toThrow(
      'memorySize must be a whole number of MB from 128 to 10240, got 20000',
    );
  });
});
