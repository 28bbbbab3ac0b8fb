import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { platformConfig } from '../../lib/config';
import { ModelRollout, type ModelRolloutProps, rolloutSettings } from '../../lib/constructs/rollout';
import { createPlatform } from '../../lib/platform';
import { allStates, renderedDefinition } from '../../local/state-machine';
import { testApp } from '../helpers/cdk-app';

/**
 * The progressive rollout as CDK builds it: the state machine's shape (the loop, its routing of
 * outcomes and errors, a timeout on every Task), the request rule, the canary rollback alarm ->
 * EventBridge -> function wiring, and the grants (named actions, S3 on registry/ only, writes only
 * where a rollout changes something).
 */

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };
type AslState = Omit<ReturnType<typeof allStates>[number][1], 'Retry'> & {
  Next?: string;
  End?: boolean;
  TimeoutSeconds?: number;
  SecondsPath?: string;
  Default?: string;
  Choices?: Record<string, unknown>[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Retry?: { ErrorEquals: string[] }[];
};

const MODELS = ['iris', 'sentiment'];

function synth(props: Partial<ModelRolloutProps> = {}, withTopic = true) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Rollout', { env: { account: '111122223333', region: 'eu-west-1' } });
  const modelBucket = new s3.Bucket(stack, 'ModelBucket');
  const topic = withTopic ? new sns.Topic(stack, 'Topic') : undefined;
  const rollout = new ModelRollout(stack, 'Rollout', { modelBucket, models: MODELS, topic, ...props });
  return { template: Template.fromStack(stack), stack, rollout };
}

const statementsOf = (template: Template): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
const actionsOf = (s: Statement): string[] => [s.Action].flat();
/** An S3 object ARN's key pattern: the literal after the bucket ARN in its Fn::Join. */
const keyPattern = (resource: unknown): string => {
  const parts = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1] ?? [];
  return parts.filter((p): p is string => typeof p === 'string').join('');
};

describe('ModelRollout', () => {
  const { template, stack, rollout } = synth();
  const definition = renderedDefinition(stack, rollout.stateMachine) as {
    StartAt: string;
    States: Record<string, AslState>;
  };
  const states = Object.fromEntries(allStates(definition)) as Record<string, AslState>;

  describe('state machine', () => {
    test("begins with Begin, then bakes each step for the plan's bakeSeconds before judging it", () => {
      expect(definition.StartAt).toBe('Begin');
      expect(states.Begin.Next).toBe('Started?');
      expect(states['Started?']).toMatchObject({
        Choices: [{ Variable: '$.status', StringEquals: 'superseded', Next: 'Superseded' }],
        Default: 'Bake',
      });
      expect(states.Bake).toMatchObject({ Type: 'Wait', SecondsPath: '$.rollout.plan.bakeSeconds', Next: 'Judge' });
      expect(states.Judge.Next).toBe('Verdict');
    });

    test('the verdict loops: pass -> Advance -> Bake, last pass -> Promote, insufficient with extensions -> Bake, else Abort; ended elsewhere -> Aborted', () => {
      const verdict = states.Verdict;
      expect(verdict.Choices).toEqual([
        { Variable: '$.status', StringEquals: 'aborted', Next: 'NotifyAborted' },
        {
          And: [
            { Variable: '$.status', StringEquals: 'pass' },
            { Variable: '$.lastStep', BooleanEquals: true },
          ],
          Next: 'Promote',
        },
        { Variable: '$.status', StringEquals: 'pass', Next: 'Advance' },
        {
          And: [
            { Variable: '$.status', StringEquals: 'insufficient' },
            { Variable: '$.extensionsLeft', BooleanEquals: true },
          ],
          Next: 'Bake',
        },
      ]);
      expect(verdict.Default).toBe('Abort');
      expect(states.Advance.Next).toBe('Bake');
      expect(states.Promote.Next).toBe('NotifyPromoted');
      expect(states.NotifyPromoted.Next).toBe('Promoted');
      expect(states.Abort.Next).toBe('NotifyAborted');
      expect(states.NotifyAborted.Next).toBe('Aborted');
      for (const end of ['Promoted', 'Aborted', 'Superseded']) expect(states[end].Type).toBe('Succeed');
    });

    test('routes the typed errors: ended elsewhere -> Aborted, champion moved at Promote -> Abort, anything else -> RecordFailure -> Fail', () => {
      const catches = (state: string) => (states[state].Catch ?? []).map((c) => [c.ErrorEquals.join(','), c.Next]);
      expect(catches('Advance')).toEqual([
        ['RolloutAbortedError', 'AbortedElsewhere'],
        ['States.ALL', 'RecordFailure'],
      ]);
      expect(catches('Promote')).toEqual([
        ['RolloutAbortedError', 'AbortedElsewhere'],
        ['AliasMovedError', 'Abort'],
        ['States.ALL', 'RecordFailure'],
      ]);
      for (const state of ['Begin', 'Judge', 'Abort', 'NotifyPromoted', 'NotifyAborted'])
        expect(catches(state)).toEqual([['States.ALL', 'RecordFailure']]);
      expect(states.AbortedElsewhere).toMatchObject({
        Type: 'Pass',
        Parameters: { 'rollout.$': '$.rollout', status: 'aborted', 'reason.$': '$.error.Cause' },
        Next: 'NotifyAborted',
      });
      expect(states.RecordFailure).toMatchObject({
        ResultPath: '$.failure',
        Next: 'RolloutFailed',
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'RolloutFailed' }],
      });
      expect(states.RolloutFailed).toMatchObject({
        Type: 'Fail',
        ErrorPath: '$.error.Error',
        CausePath: '$.error.Cause',
      });
    });

    test("every Lambda Task has TimeoutSeconds (the function's timeout) and retries transient errors, throttles and routing conflicts", () => {
      const lambdaTasks = Object.entries(states).filter(
        ([, s]) => s.Type === 'Task' && !String(s.Resource).includes('sns'),
      );
      expect(lambdaTasks.map(([name]) => name).sort()).toEqual([
        'Abort',
        'Advance',
        'Begin',
        'Judge',
        'Promote',
        'RecordFailure',
      ]);
      for (const [, state] of lambdaTasks) {
        expect(state.TimeoutSeconds).toBe(60);
        expect((state.Retry ?? []).map((r) => r.ErrorEquals[0])).toEqual([
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
          'RoutingConflictError',
        ]);
      }
      const longer = synth({ timeout: Duration.minutes(2) });
      const judge = Object.fromEntries(
        allStates(
          renderedDefinition(longer.stack, longer.rollout.stateMachine) as { States: Record<string, AslState> },
        ),
      ).Judge as AslState;
      expect(judge.TimeoutSeconds).toBe(120);
    });

    test('each Task sends { step, execution, input: the whole state }', () => {
      expect(states.Judge).toMatchObject({
        Parameters: { step: 'judge', 'execution.$': '$$.Execution.Name', 'input.$': '$' },
      });
      expect(states.Begin).toMatchObject({ Parameters: { step: 'begin' } });
    });

    test('without a topic, outcomes end without a notice', () => {
      const bare = synth({}, false);
      const bareStates = Object.fromEntries(
        allStates(renderedDefinition(bare.stack, bare.rollout.stateMachine) as { States: Record<string, AslState> }),
      ) as Record<string, AslState>;
      expect(bareStates.Promote.Next).toBe('Promoted');
      expect(bareStates.Abort.Next).toBe('Aborted');
      expect(Object.keys(bareStates).filter((s) => s.startsWith('Notify'))).toEqual([]);
    });
  });

  test('a rollout request written under registry/<model>/rollouts/ starts an execution with its bucket and key', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.stringLikeRegexp('ModelBucket') }] },
          object: { key: [{ wildcard: 'registry/*/rollouts/*.json' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('RolloutStateMachine') },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 86400 },
          InputTransformer: Match.objectLike({
            InputPathsMap: { 'detail-bucket-name': '$.detail.bucket.name', 'detail-object-key': '$.detail.object.key' },
          }),
        }),
      ],
    });
  });

  describe('alarm rollback', () => {
    test("each model has an alarm on its canary's server errors: Sum > 0 in one minute, no data is not breaching", () => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
      const dimensions = (alarm: { Dimensions: { Name: string; Value: string }[] }) =>
        Object.fromEntries(alarm.Dimensions.map((d) => [d.Name, d.Value]));
      expect(alarms.map(dimensions)).toEqual(
        MODELS.map((model) => ({ service: 'inference', model, variant: 'canary' })),
      );
      for (const alarm of alarms) {
        expect(alarm).toMatchObject({
          Namespace: 'ServerlessMlops',
          MetricName: 'VariantServerErrors',
          Statistic: 'Sum',
          Period: 60,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.AlarmDescription).toMatch(/Runbook: docs\/operations\.md, section CanaryServerErrors/);
      }
      expect(Object.keys(rollout.alarms)).toEqual(MODELS);
    });

    test('their ALARM state changes, and only theirs, go to the rollout function (with retries and a dead-letter queue)', () => {
      const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          resources: Match.arrayEquals(alarmIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))),
          detail: { state: { value: ['ALARM'] } },
        },
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RolloutFunction'), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 10 },
          }),
        ],
      });
      // EventBridge may invoke it; an invocation that still fails after Lambda's retries lands in the queue too.
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] } },
      });
    });
  });

  describe('least privilege', () => {
    const statements = statementsOf(template);

    test('no statement names a wildcard action', () => {
      expect(statements.flatMap(actionsOf).filter((a) => a.includes('*'))).toEqual([]);
    });

    test('S3 access is under registry/ only, and writes only where a rollout changes something', () => {
      const s3Statements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
      const grants = s3Statements
        .filter((s) => !actionsOf(s).includes('s3:ListBucket'))
        .map((s) => `${s.Effect === 'Deny' ? 'DENY ' : ''}${actionsOf(s).join(',')} ${keyPattern(s.Resource)}`);
      expect(grants.sort()).toEqual([
        // '*' spans '/' in an ARN, so registry/*/routing* would also match registry/<m>/rollouts/routing.json.
        'DENY s3:PutObject /registry/*/rollouts/*',
        's3:GetObject /registry/*',
        's3:PutObject /registry/*/aliases/*',
        's3:PutObject /registry/*/history/*',
        's3:PutObject /registry/*/rollout-runs/*',
        's3:PutObject /registry/*/routing*',
      ]);
      const listing = s3Statements.find((s) => actionsOf(s).includes('s3:ListBucket'));
      expect(listing?.Condition).toEqual({ StringLike: { 's3:prefix': ['registry/*'] } });
    });

    test("cloudwatch:GetMetricData, which takes no resource but '*', is the only statement on '*' besides X-Ray and log delivery", () => {
      const onStar = statements.filter((s) => s.Resource === '*').flatMap(actionsOf);
      expect(onStar.filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:'))).toEqual([
        'cloudwatch:GetMetricData',
      ]);
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: [{ Action: 'cloudwatch:GetMetricData', Effect: 'Allow', Resource: '*' }] },
      });
    });

    test('the state machine may invoke the rollout function and publish to the topic only', () => {
      const smActions = statementsOf(template)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('lambda:') || a.startsWith('sns:'));
      expect([...new Set(smActions)].sort()).toEqual(['lambda:InvokeFunction', 'sns:Publish']);
    });
  });

  test('refuses props that cannot work, saying what was received', () => {
    const bucket = {} as s3.IBucket;
    expect(() => rolloutSettings({ modelBucket: bucket, models: [] })).toThrow(
      'models must list at least one model (one per config/models/*.json spec), got none',
    );
    expect(() => rolloutSettings({ modelBucket: bucket, models: ['Iris'] })).toThrow(
      /^models: model name "Iris" is not valid/,
    );
    expect(() => rolloutSettings({ modelBucket: bucket, models: ['iris'], timeout: Duration.minutes(20) })).toThrow(
      "timeout must be whole seconds from 3 s to 15 minutes (Lambda's limit), got 1200 s",
    );
    expect(() => rolloutSettings({ modelBucket: bucket, models: ['iris'], memorySize: 64 })).toThrow(
      'memorySize must be a whole number of MB from 128 to 10240, got 64',
    );
  });
});

describe('the platform', () => {
  const specs = loadModelSpecs(join(__dirname, '../../config/models'));
  const stacks = createPlatform(testApp(), platformConfig({}, specs));

  test('the model bucket sends object events to EventBridge, so rollout requests can start rollouts', () => {
    const storage = Template.fromStack(stacks.storage);
    const modelBucket = Object.entries(storage.findResources('AWS::S3::Bucket')).find(([id]) =>
      id.startsWith('ModelBucket'),
    )?.[1];
    expect(modelBucket?.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
  });

  test("the pipeline stack runs one rollback alarm per model spec and notifies rollout outcomes on the pipeline's topic", () => {
    expect(Object.keys(stacks.pipeline.rollout.alarms).sort()).toEqual(specs.map((s) => s.name).sort());
    const template = Template.fromStack(stacks.pipeline);
    const definition = renderedDefinition(stacks.pipeline, stacks.pipeline.rollout.stateMachine) as {
      States: Record<string, AslState & { Parameters?: { TopicArn?: string } }>;
    };
    expect(definition.States.NotifyAborted.Parameters?.TopicArn).toMatch(/RetrainingTopic/);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});
