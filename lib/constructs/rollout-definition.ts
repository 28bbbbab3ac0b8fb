/**
 * The rollout state machine's definition, as core/rollout/contract.ts describes it: step names,
 * state fields and routed error names are the contract's, so change them together.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import {
  ALIAS_MOVED_ERROR,
  ROLLOUT_ABORTED_ERROR,
  ROUTING_CONFLICT_ERROR,
  type RolloutStep,
} from '../../core/rollout/contract';
import {
  LAMBDA_THROTTLE_ERROR,
  LAMBDA_TRANSIENT_ERRORS,
  THROTTLE_RETRY,
  TRANSIENT_RETRY,
} from './retraining-definition';

export interface RolloutDefinitionProps {
  /** The rollout function: every Task invokes it with { step, execution, input }. */
  readonly fn: lambda.IFunction;
  /**
   * Where the outcome of every rollout (promoted, aborted and why) is published.
   * @default - no notices
   */
  readonly topic?: sns.ITopic;
  /**
   * Each Lambda Task's TimeoutSeconds: the function's own timeout. Written out because the States
   * Language default of 60 s is what the local platform's interpreter applies.
   * @default Duration.minutes(1)
   */
  readonly taskTimeout?: Duration;
}

/** The document changed under a write more often than the store retries: try again a few times, seconds apart. */
const CONFLICT_RETRY = { interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 3 } as const;

/** Builds the chain from Begin; every Task retries transient errors and catches the rest into RecordFailure. */
export function rolloutDefinition(scope: Construct, props: RolloutDefinitionProps): sfn.IChainable {
  const { fn, topic } = props;
  const taskTimeout = sfn.Timeout.duration(props.taskTimeout ?? Duration.minutes(1));

  /** A Lambda step: payload { step, execution, input: $ }; no ResultPath, so its result is the next state. */
  const step = (id: string, name: RolloutStep, resultPath?: string) => {
    const task = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject({
        step: name,
        execution: sfn.JsonPath.stringAt('$$.Execution.Name'),
        input: sfn.JsonPath.entirePayload,
      }),
      payloadResponseOnly: true,
      // The retries below replace CDK's default one, so the retried errors are the contract's.
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout,
    });
    task.addRetry({ errors: [...LAMBDA_TRANSIENT_ERRORS], ...TRANSIENT_RETRY, jitterStrategy: sfn.JitterType.FULL });
    task.addRetry({ errors: [LAMBDA_THROTTLE_ERROR], ...THROTTLE_RETRY, jitterStrategy: sfn.JitterType.FULL });
    task.addRetry({ errors: [ROUTING_CONFLICT_ERROR], ...CONFLICT_RETRY, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };

  // Failure path: record what failed and take the canary out (nothing would judge it any more).
  const failed = new sfn.Fail(scope, 'RolloutFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
  const recordFailure = step('RecordFailure', 'record-failure', '$.failure');
  recordFailure.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.recordFailureError' }).next(failed);
  const onError = <T extends sfn.TaskStateBase>(state: T): T => {
    state.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    return state;
  };

  /** A notice of the outcome ($.status, $.reason) when a topic is configured, then the end state. */
  const ending = (id: string, end: sfn.Succeed): sfn.IChainable => {
    if (!topic) return end;
    const notice = new tasks.SnsPublish(scope, `Notify${id}`, {
      topic,
      subject: `Rollout ${id.toLowerCase()}`,
      message: sfn.TaskInput.fromObject({
        model: sfn.JsonPath.stringAt('$.rollout.model'),
        rolloutId: sfn.JsonPath.stringAt('$.rollout.rolloutId'),
        version: sfn.JsonPath.numberAt('$.rollout.version'),
        outcome: sfn.JsonPath.stringAt('$.status'),
        reason: sfn.JsonPath.stringAt('$.reason'),
        execution: sfn.JsonPath.stringAt('$$.Execution.Name'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notice.addRetry({ errors: ['States.TaskFailed'], ...TRANSIENT_RETRY, jitterStrategy: sfn.JitterType.FULL });
    return onError(notice).next(end);
  };

  const promoted = ending(
    'Promoted',
    new sfn.Succeed(scope, 'Promoted', { comment: 'The canary passed every step and is the champion' }),
  );
  const aborted = ending(
    'Aborted',
    new sfn.Succeed(scope, 'Aborted', {
      comment: 'The canary was taken out: by the gate, an alarm or an operator (see $.reason)',
    }),
  );

  // Advance and Promote find the rollout ended by someone else (an operator, the alarm): that is an outcome, not a failure.
  const abortedElsewhere = new sfn.Pass(scope, 'AbortedElsewhere', {
    parameters: { 'rollout.$': '$.rollout', status: 'aborted', 'reason.$': '$.error.Cause' },
  });
  abortedElsewhere.next(aborted);
  const endedElsewhere = <T extends sfn.TaskStateBase>(state: T): T => {
    state.addCatch(abortedElsewhere, { errors: [ROLLOUT_ABORTED_ERROR], resultPath: '$.error' });
    return state;
  };

  const abort = onError(step('Abort', 'abort'));
  abort.next(aborted);
  const promote = endedElsewhere(step('Promote', 'promote'));
  // The champion moved since the canary started (a retrain promoted directly): promoting would overwrite it.
  promote.addCatch(abort, { errors: [ALIAS_MOVED_ERROR], resultPath: '$.error' });
  onError(promote).next(promoted);

  const bake = new sfn.Wait(scope, 'Bake', { time: sfn.WaitTime.secondsPath('$.rollout.plan.bakeSeconds') });
  const judge = onError(step('Judge', 'judge'));
  const advance = onError(endedElsewhere(step('Advance', 'advance')));
  advance.next(bake);
  const status = (value: string) => sfn.Condition.stringEquals('$.status', value);
  bake.next(judge).next(
    new sfn.Choice(scope, 'Verdict')
      .when(status('aborted'), aborted)
      .when(sfn.Condition.and(status('pass'), sfn.Condition.booleanEquals('$.lastStep', true)), promote)
      .when(status('pass'), advance)
      // Not enough traffic yet: bake the same step again; its window keeps growing from the step's start.
      .when(sfn.Condition.and(status('insufficient'), sfn.Condition.booleanEquals('$.extensionsLeft', true)), bake)
      // fail, or still insufficient with no extension left
      .otherwise(abort),
  );

  const begin = onError(step('Begin', 'begin'));
  begin.next(
    new sfn.Choice(scope, 'Started?')
      // A repeated S3 event, or a request whose rollout already ended: another execution or nobody drives it.
      .when(status('superseded'), new sfn.Succeed(scope, 'Superseded'))
      .otherwise(bake),
  );
  return begin;
}
