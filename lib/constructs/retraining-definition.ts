/**
 * The retraining state machine's definition, exactly as core/pipeline/contract.ts describes
 * it: state names, step names and result paths here are the contract's, so change them together.
 */
import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { PipelineStep } from '../../core/pipeline/contract';

/**
 * Lambda's transient errors other than throttling: worth retrying a few times within seconds,
 * unlike a step's own (deterministic) failures. Throttles get a retry of their own
 * (LAMBDA_THROTTLE_RETRY).
 */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
] as const;

/** Lambda refused the invocation for lack of concurrency: the step never ran, so retrying is always safe. */
export const LAMBDA_THROTTLE_ERROR = 'Lambda.TooManyRequestsException';

/**
 * The short retry of every Task: 3 retries, waits of at most 2, 4 and 8 s (full jitter), about
 * 14 s in all. Enough for a blip of the Lambda service; a step's own errors are not retried.
 */
export const TRANSIENT_RETRY = { interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3 } as const;

/**
 * The throttle retry of the Lambda steps, in minutes rather than seconds: a throttle means the
 * account's (or region's) concurrency is used up, by this run's own Map, by other runs started at
 * the same time, or by another workload, and that lasts as long as their invocations (a training
 * step runs for seconds to minutes). Waits of at most 5, 10, 20, 40 s, then 60 s (maxDelay) for
 * each later retry: 8 retries may wait up to 5 + 10 + 20 + 40 + 4 x 60 = 315 s, about 5 minutes.
 * With full jitter each wait is drawn between 0 and that bound, so the typical total is about
 * half of it (2.5 minutes), and retries of candidates throttled together spread out instead of
 * all coming back at the same moment. A step still throttled after that fails the run (Catch).
 */
export const THROTTLE_RETRY = {
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
  maxAttempts: 8,
} as const;

/**
 * How many candidates the training Map trains at once when the props do not say.
 *
 * 5: every bundled spec trains all its algorithms in one wave (iris has 5, the others 3), and one
 * run's Map then uses at most 5 concurrent executions of the function, half of the 10 a new AWS
 * account may start with (Lambda's concurrency quota is raised on request, or with usage). Two
 * runs at once (an upload during a scheduled run) fit in 10; anything beyond is throttled and
 * retried with THROTTLE_RETRY's minutes-long budget instead of failing the run.
 */
export const DEFAULT_TRAINING_MAX_CONCURRENCY = 5;
/** Step Functions runs at most 40 iterations of an inline Map at once, whatever MaxConcurrency says. */
export const MAX_TRAINING_MAX_CONCURRENCY = 40;

/**
 * ECS's transient errors when Step Functions starts or watches a task (RunTask throttled, no
 * Fargate capacity for a moment, an internal error): retried like Lambda's. A task that ran and
 * failed (the trainer exited 1, out of memory) is States.TaskFailed and is not retried: training
 * is deterministic, and a second attempt would fail the same way after as long.
 */
const ECS_TRANSIENT_ERRORS = ['ECS.AmazonECSException', 'ECS.ServerException'] as const;

/** The managed training engine (an ECS Fargate task running the trainer's container). */
export interface ManagedTrainingTask {
  readonly cluster: ecs.ICluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The trainer's container: TRAIN_ITEM is set on it per item. */
  readonly container: ecs.ContainerDefinition;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  /** Whether the task gets a public IP (public subnets and no NAT: it pulls its image and writes logs over it). */
  readonly assignPublicIp: boolean;
  /** The task's TimeoutSeconds: the longest one candidate may train. */
  readonly timeout: Duration;
}

export interface RetrainingDefinitionProps {
  /** The one function that runs every step. */
  readonly fn: lambda.IFunction;
  /** Quarantine, success and failure notices. */
  readonly topic: sns.ITopic;
  /**
   * How many candidates (algorithms) the TrainCandidates Map trains at once (1..40).
   * @default DEFAULT_TRAINING_MAX_CONCURRENCY (5)
   */
  readonly maxConcurrency?: number;
  /**
   * Each Lambda step's TimeoutSeconds: the function's own timeout. Written out because the States
   * Language's default for a Task is 60 s (AWS uses 99999999 s, the ASL interpreter of the local
   * platform the spec's 60 s): a Prepare over thousands of files, or a long training step, would
   * time out locally and not in AWS.
   * @default - 15 minutes (Lambda's maximum)
   */
  readonly taskTimeout?: Duration;
  /**
   * The managed engine: with it, a TrainingEngine? Choice sends runs whose Prepare chose
   * 'managed' to TrainCandidatesManaged (one ECS task per candidate) instead of TrainCandidates.
   * @default - Lambda only (Prepare refuses data beyond one function)
   */
  readonly managedTraining?: ManagedTrainingTask;
}

/** Builds the chain; every Task gets Retry (transient errors, backoff) and Catch -> failure path. */
export function retrainingDefinition(scope: Construct, props: RetrainingDefinitionProps): sfn.IChainable {
  const { fn, topic } = props;
  const maxConcurrency = props.maxConcurrency ?? DEFAULT_TRAINING_MAX_CONCURRENCY;

  const withRetry = <T extends sfn.TaskStateBase>(task: T, errors: readonly string[]): T => {
    task.addRetry({ errors: [...errors], ...TRANSIENT_RETRY, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };

  /**
   * A Lambda step: payload { step, input: <the whole state> }, result at `resultPath`. Two
   * retriers (the first whose errors match is used): transient errors within seconds, throttles
   * within minutes.
   */
  const step = (
    id: string,
    name: PipelineStep,
    resultPath: string | undefined,
    input: Record<string, unknown> | string = sfn.JsonPath.entirePayload,
  ) => {
    const task = withRetry(
      new tasks.LambdaInvoke(scope, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject({ step: name, input }),
        payloadResponseOnly: true,
        // The Retry below replaces CDK's default one, so the retried errors are the contract's.
        retryOnServiceExceptions: false,
        resultPath,
        taskTimeout: sfn.Timeout.duration(props.taskTimeout ?? Duration.minutes(15)),
      }),
      LAMBDA_TRANSIENT_ERRORS,
    );
    task.addRetry({ errors: [LAMBDA_THROTTLE_ERROR], ...THROTTLE_RETRY, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };

  const notice = (id: string, subject: string, message: Record<string, unknown>, resultPath: string) =>
    withRetry(
      new tasks.SnsPublish(scope, id, { topic, subject, message: sfn.TaskInput.fromObject(message), resultPath }),
      ['States.TaskFailed'],
    );

  // Failure path: record what failed, tell someone, end Failed with the original error.
  const pipelineFailed = new sfn.Fail(scope, 'PipelineFailed', {
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const notifyFailure = notice(
    'NotifyFailure',
    'Retraining failed',
    {
      model: sfn.JsonPath.stringAt('$.model'),
      execution: sfn.JsonPath.stringAt('$.execution'),
      error: sfn.JsonPath.objectAt('$.error'),
    },
    sfn.JsonPath.DISCARD,
  );
  notifyFailure
    .addCatch(pipelineFailed, { errors: ['States.ALL'], resultPath: '$.notifyFailureError' })
    .next(pipelineFailed);
  const recordFailure = step('RecordFailure', 'record-failure', sfn.JsonPath.DISCARD, {
    state: sfn.JsonPath.entirePayload,
    error: sfn.JsonPath.objectAt('$.error'),
  });
  // A failure to record the failure must not hide it: still notify, keeping the original $.error.
  recordFailure
    .addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.recordFailureError' })
    .next(notifyFailure);
  const onError = <T extends sfn.TaskStateBase | sfn.Map>(state: T): T => {
    state.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    return state;
  };

  // Start: the execution name goes into $ (runs/ and failure records use it), and an upload's
  // model comes from its key, incoming/<model>/<file>, which EventBridge cannot extract.
  const modelFromKey = new sfn.Pass(scope, 'ModelFromKey', {
    parameters: {
      'model.$': "States.ArrayGetItem(States.StringSplit($.key, '/'), 1)",
      'trigger.$': '$.trigger',
      'bucket.$': '$.bucket',
      'key.$': '$.key',
      'etag.$': '$.etag',
      'execution.$': '$$.Execution.Name',
      'startedAt.$': '$$.Execution.StartTime',
    },
  });
  const namedInput = new sfn.Pass(scope, 'ExecutionInput', {
    parameters: {
      'model.$': '$.model',
      'trigger.$': '$.trigger',
      'execution.$': '$$.Execution.Name',
      'startedAt.$': '$$.Execution.StartTime',
    },
  });
  const start = new sfn.Choice(scope, 'Upload?')
    // not(isPresent) rather than isNotPresent: same meaning in AWS, and aws-local-stepfunctions
    // 3.0.0 evaluates `IsPresent: false` as always false.
    .when(
      sfn.Condition.and(sfn.Condition.isPresent('$.key'), sfn.Condition.not(sfn.Condition.isPresent('$.model'))),
      modelFromKey,
    )
    .otherwise(namedInput);

  const validate = onError(step('Validate', 'validate', '$.validation'));
  modelFromKey.next(validate);
  namedInput.next(validate);

  // A quarantine is the pipeline doing its job on bad data, not a broken run: the execution
  // succeeds (so PipelineExecutionsFailed means broken runs only); the notice, the report under
  // quarantine/ and the QuarantinedFiles metric say what happened.
  const quarantined = new sfn.Succeed(scope, 'Quarantined', {
    comment: 'The upload broke the data contract; see the quarantine report',
  });
  const notifyQuarantine = onError(
    notice(
      'NotifyQuarantine',
      'Upload quarantined',
      {
        model: sfn.JsonPath.stringAt('$.model'),
        execution: sfn.JsonPath.stringAt('$.execution'),
        key: sfn.JsonPath.stringAt('$.key'),
        quarantineKey: sfn.JsonPath.stringAt('$.validation.quarantineKey'),
        reportKey: sfn.JsonPath.stringAt('$.validation.reportKey'),
        problems: sfn.JsonPath.objectAt('$.validation.problems'),
      },
      sfn.JsonPath.DISCARD,
    ),
  );
  notifyQuarantine.next(quarantined);

  const prepare = onError(step('Prepare', 'prepare', '$.prepare'));
  // No ResultPath: the candidate replaces the item (ASL's default). An explicit "$" means the
  // same in AWS, but aws-local-stepfunctions 3.0.0 writes it under a literal "$" key.
  const train = step('Train', 'train', undefined);
  // A Catch cannot leave the Map's iteration, so the item fails with the task's own error and
  // the Map's Catch takes the failure path.
  train.addCatch(new sfn.Fail(scope, 'TrainFailed', { errorPath: '$.Error', causePath: '$.Cause' }), {
    errors: ['States.ALL'],
  });
  const candidatesMap = (id: string) =>
    onError(
      new sfn.Map(scope, id, {
        itemsPath: '$.prepare.algorithms',
        itemSelector: {
          model: sfn.JsonPath.stringAt('$.model'),
          runId: sfn.JsonPath.stringAt('$.prepare.runId'),
          // A pointer, not the file list: the state stays small however many files a model has.
          dataManifestKey: sfn.JsonPath.stringAt('$.prepare.dataManifestKey'),
          seed: sfn.JsonPath.numberAt('$.prepare.seed'),
          algorithm: sfn.JsonPath.stringAt('$$.Map.Item.Value'),
        },
        resultPath: '$.candidates',
        // A cap, so one run cannot use up a small account's Lambda concurrency (see
        // DEFAULT_TRAINING_MAX_CONCURRENCY); candidates beyond it wait for a free slot.
        maxConcurrency,
      }),
    );
  const trainCandidates = candidatesMap('TrainCandidates');
  trainCandidates.itemProcessor(train);

  const evaluate = onError(step('Evaluate', 'evaluate', '$.evaluation'));
  // Both branches run step 'register'; it reads $.evaluation.decision.promote and moves
  // 'champion' or gives the version 'challenger' with the reason recorded.
  const registerChampion = onError(step('RegisterChampion', 'register', '$.registration'));
  const registerChallenger = onError(step('RegisterChallenger', 'register', '$.registration'));
  // A notice that cannot be sent fails the run (and so raises the failed-executions alarm),
  // even though the version is registered by then: nobody would otherwise hear of it.
  const notify = onError(
    notice(
      'Notify',
      'Retraining finished',
      {
        model: sfn.JsonPath.stringAt('$.model'),
        execution: sfn.JsonPath.stringAt('$.execution'),
        trigger: sfn.JsonPath.stringAt('$.trigger'),
        decision: sfn.JsonPath.objectAt('$.evaluation.decision'),
        registration: sfn.JsonPath.objectAt('$.registration'),
      },
      '$.notification',
    ),
  );
  registerChampion.next(notify);
  registerChallenger.next(notify);
  const gate = new sfn.Choice(scope, 'Gate')
    .when(sfn.Condition.booleanEquals('$.evaluation.decision.promote', true), registerChampion)
    .otherwise(registerChallenger);

  validate.next(
    new sfn.Choice(scope, 'Quarantined?')
      .when(sfn.Condition.stringEquals('$.validation.status', 'quarantined'), notifyQuarantine)
      // A second delivery of the same S3 event: the first execution retrains; this one stops.
      .when(sfn.Condition.stringEquals('$.validation.status', 'duplicate'), new sfn.Succeed(scope, 'AlreadyHandled'))
      // Every row of the upload was already processed (the same content under another name):
      // nothing new to learn from, so no training and no version; not a failure either.
      .when(sfn.Condition.stringEquals('$.validation.status', 'no-new-data'), new sfn.Succeed(scope, 'NoNewData'))
      // A folder marker ("Create folder" in the S3 console): not data, nothing to do.
      .when(sfn.Condition.stringEquals('$.validation.status', 'ignored'), new sfn.Succeed(scope, 'Ignored'))
      // A scheduled run before the model's first upload: no data yet, nothing to retrain.
      .when(sfn.Condition.stringEquals('$.validation.status', 'no-data'), new sfn.Succeed(scope, 'NoDataYet'))
      .otherwise(prepare.next(trainingChoice()).next(evaluate).next(gate)),
  );
  return start;

  /**
   * Lambda only, or a Choice between the two engines on Prepare's decision
   * (core/pipeline/training-engine.ts); both Maps put CandidateResults at $.candidates.
   */
  function trainingChoice(): sfn.Map | sfn.Chain {
    const managed = props.managedTraining;
    if (!managed) return trainCandidates;
    const runTask = withRetry(
      new tasks.EcsRunTask(scope, 'TrainManaged', {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        cluster: managed.cluster,
        taskDefinition: managed.taskDefinition,
        launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.LATEST }),
        subnets: managed.subnets,
        securityGroups: [...managed.securityGroups],
        assignPublicIp: managed.assignPublicIp,
        containerOverrides: [
          {
            containerDefinition: managed.container,
            environment: [{ name: 'TRAIN_ITEM', value: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$')) }],
          },
        ],
        // The task's description is not the candidate: keep the item for read-candidate.
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(managed.timeout),
      }),
      ECS_TRANSIENT_ERRORS,
    );
    const readCandidate = step('ReadCandidate', 'read-candidate', undefined);
    const failed = new sfn.Fail(scope, 'TrainManagedFailed', { errorPath: '$.Error', causePath: '$.Cause' });
    runTask.addCatch(failed, { errors: ['States.ALL'] });
    readCandidate.addCatch(failed, { errors: ['States.ALL'] });
    const trainManaged = candidatesMap('TrainCandidatesManaged');
    trainManaged.itemProcessor(runTask.next(readCandidate));
    return new sfn.Choice(scope, 'TrainingEngine?')
      .when(sfn.Condition.stringEquals('$.prepare.engine', 'managed'), trainManaged)
      .otherwise(trainCandidates)
      .afterwards();
  }
}
