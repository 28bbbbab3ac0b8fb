import { Duration, IgnoreMode, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeResourceWildcards, grantList, grantObjects } from './least-privilege';
import { PROJECT_ROOT } from './project-root';
import type { ManagedTrainingTask } from './retraining-definition';

/** The trainer's Dockerfile, relative to the build context (the repository root). */
const MANAGED_TRAINING_DOCKERFILE = 'training/container/Dockerfile';
/**
 * The build context: everything under the repository root is excluded but what the Dockerfile
 * copies, so the asset's fingerprint (computed at every synth, also by npm start and the tests)
 * reads a few hundred source files, not node_modules, and an edit elsewhere does not rebuild it.
 */
const MANAGED_TRAINING_CONTEXT = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!.npmrc',
  '!tsconfig.json',
  '!core',
  '!lambdas',
  '!training',
  '!config',
  'training/datasets',
  '**/*.test.ts',
];

/** The container's name in the task definition (the state machine overrides its TRAIN_ITEM). */
export const TRAINER_CONTAINER = 'trainer';

/** Fargate's allowed memory (MiB) for each CPU size (CPU units, 1024 = 1 vCPU). */
const FARGATE_SIZES: Readonly<Record<number, { min: number; max: number; step: number }>> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

export const MANAGED_TRAINING_DEFAULTS = {
  /** 2 vCPU: training is single-threaded; the second vCPU is the smallest size that allows 16 GiB. */
  cpu: 2048,
  /** 16 GiB: ~4x the pipeline function's 3 GB, the bound of every measured algorithm (training-capacity.json). */
  memoryMiB: 16384,
  /** 4 hours for one candidate: 16x Lambda's 15 minutes; a longer run is refused up front by Prepare. */
  timeoutMinutes: 240,
} as const;

/** Why this CPU/memory pair is not a Fargate size, or undefined when it is. */
/** The trainer's V8 heap limit in a task of `memoryMiB`: what the capacity model measured with. */
function managedHeapMiB(memoryMiB: number): number {
  return memoryMiB - 300;
}

export function fargateSizeProblem(cpu: number, memoryMiB: number): string | undefined {
  const size = FARGATE_SIZES[cpu];
  if (!size)
    return `cpu must be one of Fargate's sizes ${Object.keys(FARGATE_SIZES).join(', ')} (CPU units), got ${cpu}`;
  if (!Number.isInteger(memoryMiB) || memoryMiB < size.min || memoryMiB > size.max || memoryMiB % size.step !== 0)
    return `memoryMiB must be from ${size.min} to ${size.max} in steps of ${size.step} for cpu ${cpu} (Fargate's sizes), got ${memoryMiB}`;
  return undefined;
}

export interface ManagedTrainingProps {
  /** The data bucket (the trainer reads nothing there but writes S3 URIs of processed/ into manifests). */
  readonly dataBucket: s3.IBucket;
  /** runs/: the run's data snapshot and manifest are read, the candidate written. */
  readonly modelBucket: s3.IBucket;
  /**
   * CPU units (1024 = 1 vCPU).
   * @default 2048
   */
  readonly cpu?: number;
  /**
   * Memory in MiB; must be a Fargate size for `cpu`.
   * @default 16384
   */
  readonly memoryMiB?: number;
  /**
   * The longest one candidate may train (the state machine's TimeoutSeconds for the task).
   * @default Duration.minutes(240)
   */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The network.
   * @default - a VPC of its own: two public subnets, no NAT gateway (nothing is billed while idle), an S3 gateway endpoint and flow logs
   */
  readonly vpc?: ec2.IVpc;
}

/**
 * The managed training engine: an ECS Fargate task definition running the trainer's container
 * (training/container/Dockerfile), in a cluster that costs nothing while no task runs. The state
 * machine starts one task per candidate (.sync) when Prepare chose 'managed'.
 */
export class ManagedTraining extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly logGroup: logs.LogGroup;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly vpc: ec2.IVpc;
  public readonly timeout: Duration;
  public readonly memoryMiB: number;
  /** What the retraining definition needs to run the task. */
  public readonly task: ManagedTrainingTask;

  constructor(scope: Construct, id: string, props: ManagedTrainingProps) {
    super(scope, id);
    const cpu = props.cpu ?? MANAGED_TRAINING_DEFAULTS.cpu;
    const memoryMiB = props.memoryMiB ?? MANAGED_TRAINING_DEFAULTS.memoryMiB;
    const sizeProblem = fargateSizeProblem(cpu, memoryMiB);
    if (sizeProblem) throw new Error(`managed training: ${sizeProblem}`);
    const timeout = props.timeout ?? Duration.minutes(MANAGED_TRAINING_DEFAULTS.timeoutMinutes);
    const minutes = timeout.toMinutes({ integral: false });
    if (!(minutes >= 15) || minutes > 24 * 60)
      throw new Error(`managed training: timeout must be from 15 minutes to 24 hours, got ${minutes} minutes`);
    this.timeout = timeout;
    this.memoryMiB = memoryMiB;

    this.vpc = props.vpc ?? this.defaultVpc(props.logRetention);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      // Container Insights bills per metric of running tasks only: a few candidates a day cost cents.
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: this.vpc,
      description: 'Managed training task: no inbound; outbound HTTPS to ECR, CloudWatch Logs and S3',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'ECR, CloudWatch Logs and S3 over HTTPS');

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: "Managed training task's execution role: pulls its image, writes its log group",
    });
    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Managed training task: reads the run under runs/, writes its candidate there',
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB: memoryMiB,
      executionRole,
      taskRole,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.container = this.taskDefinition.addContainer(TRAINER_CONTAINER, {
      image: ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
        file: MANAGED_TRAINING_DOCKERFILE,
        exclude: MANAGED_TRAINING_CONTEXT,
        ignoreMode: IgnoreMode.DOCKER,
      }),
      essential: true,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'train' }),
      // Bucket names, not secrets (AwsSolutions-ECS2 is acknowledged below for that reason).
      environment: {
        DATA_BUCKET: props.dataBucket.bucketName,
        MODEL_BUCKET: props.modelBucket.bucketName,
        // V8's default heap limit (2-4 GB) is not the task's memory: without this, data sized for the
        // task by the capacity model (heap = memory - 300 MB, as measured) dies at the default limit.
        NODE_OPTIONS: `--enable-source-maps --max-old-space-size=${managedHeapMiB(memoryMiB)}`,
      },
      readonlyRootFilesystem: false,
    });
    // The run's data manifest and snapshot are read, the candidate and candidate.json written: runs/ only.
    grantObjects(props.modelBucket, taskRole, 'runs/', ['s3:GetObject', 's3:PutObject']);
    grantList(props.modelBucket, taskRole, ['runs/']);
    acknowledgeResourceWildcards(this, 'managed training roles');
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'the environment holds the two bucket names and, per task, the training item (model, run id, algorithm): no secret',
    });

    this.task = {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      container: this.container,
      subnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      assignPublicIp: true,
      timeout,
    };
  }

  /**
   * Public subnets and no NAT gateway: a NAT costs ~$33 a month idle, this VPC nothing. The task
   * gets a public IP to pull its image and write logs, and no inbound rule; S3 traffic takes the
   * (free) gateway endpoint.
   */
  private defaultVpc(retention: logs.RetentionDays | undefined): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogsGroup', { retention: retention ?? logs.RetentionDays.ONE_MONTH }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    return vpc;
  }
}
