import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { fargateSizeProblem, TRAINER_CONTAINER } from '../../lib/constructs/managed-training';
import { RetrainingPipeline, type RetrainingPipelineProps } from '../../lib/constructs/retraining-pipeline';
import { platformConfig } from '../../lib/config';
import { allStates, renderedDefinition } from '../../local/state-machine';
import { ECS_RUN_TASK_SYNC } from '../../local/managed-task';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type AslState = Omit<ReturnType<typeof allStates>[number][1], 'Retry'> & {
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Choices?: { Variable: string; StringEquals: string; Next: string }[];
  Default?: string;
};

function synth(props: Partial<RetrainingPipelineProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Pipeline', { env: { account: '111122223333', region: 'eu-west-1' } });
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    dataBucket: new s3.Bucket(stack, 'DataBucket', { eventBridgeEnabled: true }),
    modelBucket: new s3.Bucket(stack, 'ModelBucket'),
    models: [{ name: 'iris' }],
    ...props,
  });
  const definition = renderedDefinition(stack, pipeline.stateMachine) as { States: Record<string, AslState> };
  return {
    template: Template.fromStack(stack),
    stack,
    pipeline,
    states: new Map(allStates(definition) as [string, AslState][]),
  };
}

const policyOf = (template: Template, roleLogicalId: string): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat());

describe('managed training (ECS Fargate)', () => {
  const { template, stack, pipeline, states } = synth();
  const managed = pipeline.managedTraining!;
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;

  test('the task definition is Fargate, 2 vCPU and 16 GiB by default, with the trainer container logging to a retained group', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '2048',
      Memory: '16384',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: TRAINER_CONTAINER,
          Essential: true,
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
          Environment: Match.arrayWith([Match.objectLike({ Name: 'MODEL_BUCKET' })]),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    expect(managed.logGroup).toBeDefined();
  });

  test('size and timeout come from props, and the pipeline function learns them for its engine choice', () => {
    const custom = synth({ managedTraining: { cpu: 4096, memoryMiB: 30720, timeout: Duration.hours(8) } });
    custom.template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '4096', Memory: '30720' });
    // The trainer's heap is the task's memory less what the capacity model measured it with, not V8's default.
    custom.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'NODE_OPTIONS', Value: '--enable-source-maps --max-old-space-size=30420' },
          ]),
        }),
      ],
    });
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ MANAGED_TRAINING_MEMORY_MB: '30720', MANAGED_TRAINING_TIMEOUT_SECONDS: '28800' }),
      },
    });
    expect(custom.states.get('TrainManaged')?.TimeoutSeconds).toBe(8 * 3600);
  });

  test('fails at synth on a size Fargate does not offer, naming the allowed range', () => {
    expect(() => synth({ managedTraining: { cpu: 2048, memoryMiB: 32768 } })).toThrow(
      /memoryMiB must be from 4096 to 16384 in steps of 1024 for cpu 2048/,
    );
    expect(() => synth({ managedTraining: { cpu: 3000 } })).toThrow(/cpu must be one of Fargate's sizes/);
    expect(() => synth({ managedTraining: { timeout: Duration.minutes(5) } })).toThrow(
      /timeout must be from 15 minutes to 24 hours/,
    );
    expect(fargateSizeProblem(16384, 122880)).toBeUndefined();
  });

  test('the task role reads and writes runs/ in the model bucket only: nothing in the data bucket, no delete, no registry', () => {
    const statements = policyOf(template, id(managed.taskDefinition.taskRole as never));
    expect([...new Set(actions(statements))].sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const objects = statements.find((s) => actions([s]).includes('s3:PutObject'));
    expect(JSON.stringify(stack.resolve(objects?.Resource))).toMatch(/ModelBucket.*\/runs\/\*/);
    expect(JSON.stringify(statements)).not.toMatch(/DataBucket/);
  });

  test('the execution role pulls the image and writes the log group, nothing else', () => {
    const statements = policyOf(template, id(managed.taskDefinition.executionRole as never));
    const names = new Set(actions(statements));
    expect(names).toEqual(
      new Set([
        'ecr:BatchCheckLayerAvailability',
        'ecr:GetDownloadUrlForLayer',
        'ecr:BatchGetImage',
        'ecr:GetAuthorizationToken',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ]),
    );
  });

  test('the VPC costs nothing idle: public subnets, no NAT gateway; the task has no inbound rule', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [Match.objectLike({ FromPort: 443, ToPort: 443 })],
    });
    const groups = template.findResources('AWS::EC2::SecurityGroup');
    for (const group of Object.values(groups)) expect(group.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('the TrainingEngine? Choice sends managed runs to one ECS task per candidate, the rest to the Lambda Map', () => {
    const choice = states.get('TrainingEngine?');
    expect(choice?.Type).toBe('Choice');
    expect(choice?.Choices).toEqual([
      { Variable: '$.prepare.engine', StringEquals: 'managed', Next: 'TrainCandidatesManaged' },
    ]);
    expect(choice?.Default).toBe('TrainCandidates');
    expect(states.get('Prepare')).toMatchObject({ Next: 'TrainingEngine?' });
    // Both Maps lead to the same Evaluate: the candidate is gated and registered the same way.
    expect(states.get('TrainCandidatesManaged')).toMatchObject({ Next: 'Evaluate', ResultPath: '$.candidates' });
    expect(states.get('TrainCandidates')).toMatchObject({ Next: 'Evaluate', ResultPath: '$.candidates' });
  });

  test('TrainManaged runs the task with .sync, the Map item as TRAIN_ITEM, retries only ECS service errors, and catches the rest', () => {
    const task = states.get('TrainManaged');
    expect(task?.Resource).toBe(ECS_RUN_TASK_SYNC);
    expect(task?.Parameters).toMatchObject({
      LaunchType: 'FARGATE',
      Overrides: {
        ContainerOverrides: [
          { Name: TRAINER_CONTAINER, Environment: [{ Name: 'TRAIN_ITEM', 'Value.$': 'States.JsonToString($)' }] },
        ],
      },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED' } },
    } as never);
    expect(task?.TimeoutSeconds).toBe(4 * 3600);
    expect(task?.Retry?.flatMap((r) => r.ErrorEquals)).toEqual(['ECS.AmazonECSException', 'ECS.ServerException']);
    expect(task?.Catch?.[0]).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'TrainManagedFailed' });
    expect(task).toMatchObject({ Next: 'ReadCandidate' });
    expect(states.get('TrainCandidatesManaged')?.Catch?.[0]?.ErrorEquals).toEqual(['States.ALL']);
  });

  test('the state machine may run and stop the task, and pass exactly its two roles', () => {
    const statements = policyOf(template, id(pipeline.stateMachine.role as never));
    expect(actions(statements)).toEqual(expect.arrayContaining(['ecs:RunTask', 'ecs:StopTask', 'ecs:DescribeTasks']));
    const passRole = statements.find((s) => actions([s]).includes('iam:PassRole'));
    const roles = JSON.stringify(stack.resolve(passRole?.Resource));
    expect(roles).toContain(id(managed.taskDefinition.taskRole as never));
    expect(roles).toContain(id(managed.taskDefinition.executionRole as never));
  });

  test('managedTraining: false leaves Lambda only: no cluster, no Choice, no managed variables', () => {
    const lambdaOnly = synth({ managedTraining: false });
    lambdaOnly.template.resourceCountIs('AWS::ECS::Cluster', 0);
    expect(lambdaOnly.states.has('TrainingEngine?')).toBe(false);
    expect(lambdaOnly.states.get('Prepare')).toMatchObject({ Next: 'TrainCandidates' });
    const fn = lambdaOnly.template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ STEP_TIMEOUT_SECONDS: Match.anyValue() }) } },
    });
    const variables = Object.values(fn).map((f) => f.Properties.Environment.Variables as Record<string, string>);
    expect(variables).toHaveLength(1);
    expect(variables[0].MANAGED_TRAINING_MEMORY_MB).toBeUndefined();
  });

  test('platform.pipeline.managedTraining in cdk.json is validated, naming the field', () => {
    expect(() => platformConfig({ pipeline: { managedTraining: { cpu: 1024, memoryMiB: 16384 } } }, [])).toThrow(
      /platform\.pipeline\.managedTraining.*memoryMiB must be from 2048 to 8192/s,
    );
    expect(() => platformConfig({ pipeline: { managedTraining: { gpus: 1 } } }, [])).toThrow(/managedTraining/);
  });
});
