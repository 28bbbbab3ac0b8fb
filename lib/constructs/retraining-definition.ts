/**
 * The retraining state machine's definition, exactly as core/pipeline/contract.ts describes
 * it: state names, step names and result paths here are the contract's, so change them together.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { PipelineStep } from '../../core/pipeline/contract';

/** Lambda's transient errors: worth retrying, unlike a step's own (deterministic) failures. */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

export interface RetrainingDefinitionProps {
  /** The one function that runs every step. */
  readonly fn: lambda.IFunction;
  /** Quarantine, success and failure notices. */
  readonly topic: sns.ITopic;
}

/** Builds the chain; every Task gets Retry (transient errors, backoff) and Catch -> failure path. */
export function retrainingDefinition(scope: Construct, props: RetrainingDefinitionProps): sfn.IChainable {
  const { fn, topic } = props;

  const withRetry = <T extends sfn.TaskStateBase>(task: T, errors: readonly string[]): T => {
    task.addRetry({ errors: [...errors], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };

  /** A Lambda step: payload { step, input: <the whole state> }, result at `resultPath`. */
  const step = (id: string, name: PipelineStep, resultPath: string | undefined, input: Record<string, unknown> | string = sfn.JsonPath.entirePayload) =>
    withRetry(
      new tasks.LambdaInvoke(scope, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject({ step: name, input }),
        payloadResponseOnly: true,
        // The Retry below replaces CDK's default one, so the retried errors are the contract's.
        retryOnServiceExceptions: false,
        resultPath,
      }),
      LAMBDA_TRANSIENT_ERRORS,
    );

  const notice = (id: string, subject: string, message: Record<string, unknown>, resultPath: string) =>
    withRetry(
      new tasks.SnsPublish(scope, id, { topic, subject, message: sfn.TaskInput.fromObject(message), resultPath }),
      ['States.TaskFailed'],
    );

  // Failure path: record what failed, tell someone, end Failed with the original error.
  const pipelineFailed = new sfn.Fail(scope, 'PipelineFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
  const notifyFailure = notice(
    'NotifyFailure',
    'Retraining failed',
    { model: sfn.JsonPath.stringAt('$.model'), execution: sfn.JsonPath.stringAt('$.execution'), error: sfn.JsonPath.objectAt('$.error') },
    sfn.JsonPath.DISCARD,
  );
  notifyFailure.addCatch(pipelineFailed, { errors: ['States.ALL'], resultPath: '$.notifyFailureError' }).next(pipelineFailed);
  const recordFailure = step('RecordFailure', 'record-failure', sfn.JsonPath.DISCARD, {
    state: sfn.JsonPath.entirePayload,
    error: sfn.JsonPath.objectAt('$.error'),
  });
  // A failure to record the failure must not hide it: still notify, keeping the original $.error.
  recordFailure.addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.recordFailureError' }).next(notifyFailure);
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
    parameters: { 'model.$': '$.model', 'trigger.$': '$.trigger', 'execution.$': '$$.Execution.Name', 'startedAt.$': '$$.Execution.StartTime' },
  });
  const start = new sfn.Choice(scope, 'Upload?')
    // not(isPresent) rather than isNotPresent: same meaning in AWS, and aws-local-stepfunctions
    // 3.0.0 evaluates `IsPresent: false` as always false.
    .when(sfn.Condition.and(sfn.Condition.isPresent('$.key'), sfn.Condition.not(sfn.Condition.isPresent('$.model'))), modelFromKey)
    .otherwise(namedInput);

  const validate = onError(step('Validate', 'validate', '$.validation'));
  modelFromKey.next(validate);
  namedInput.next(validate);

  const quarantined = new sfn.Fail(scope, 'Quarantined', { error: 'DataQuarantined', cause: 'The upload broke the data contract; see the quarantine report' });
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
  train.addCatch(new sfn.Fail(scope, 'TrainFailed', { errorPath: '$.Error', causePath: '$.Cause' }), { errors: ['States.ALL'] });
  const trainCandidates = onError(
    new sfn.Map(scope, 'TrainCandidates', {
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
    }),
  );
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
      // A scheduled run before the model's first upload: no data yet, nothing to retrain.
      .when(sfn.Condition.stringEquals('$.validation.status', 'no-data'), new sfn.Succeed(scope, 'NoDataYet'))
      .otherwise(prepare.next(trainCandidates).next(evaluate).next(gate)),
  );
  return start;
}
