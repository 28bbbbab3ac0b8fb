import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import {
  LAMBDA_THROTTLE_ERROR,
  LAMBDA_TRANSIENT_ERRORS,
  THROTTLE_RETRY,
  TRANSIENT_RETRY,
} from './retraining-definition';

/**
 * The batch transform job (lambdas/batch/steps.ts):
 *
 *   Start (claim the job for this execution, pin the champion's version, write job.json + chunks.json)
 *     -> Started? refused (empty / unparseable / wrong columns / unknown model: the report is written, done;
 *        'duplicate': another execution holds the job, e.g. a second delivery of the same event,
 *        recorded under duplicates/, done without scoring)
 *     -> ScoreChunks: a Distributed Map whose ItemReader is the chunk plan (a JSON array of byte
 *        ranges the Start step wrote), ItemBatcher hands each child several chunks, MaxConcurrency
 *        from config, ToleratedFailurePercentage from config
 *     -> Finish (report.json from the chunk summaries)
 *   Any task's error -> RecordFailure (report.json says the job broke) -> JobFailed.
 *
 * Why a chunk plan and not the CSV/JSONL ItemReader over the upload itself: those readers turn
 * each row into a state payload (~100 B of row become ~1 KB of JSON, 256 KiB per batch at most,
 * one header convention, no line numbers), and a malformed line fails the whole Map. Byte ranges
 * keep the payload a few numbers per chunk, let the function read the object straight from S3,
 * number refused lines exactly, and the Start step needs only the object's size to plan them.
 */

export interface BatchTransformDefinitionProps {
  readonly fn: lambda.IFunction;
  /** Children running at once (the Distributed Map's MaxConcurrency). */
  readonly maxConcurrency: number;
  /** Chunks one child scores (the ItemBatcher's MaxItemsPerBatch). */
  readonly chunksPerBatch: number;
  /** Percentage of children that may fail before the Map fails (their chunks are named in the report). */
  readonly toleratedFailurePercentage: number;
  /** @default 15 minutes */
  readonly taskTimeout?: Duration;
}

export function batchTransformDefinition(scope: Construct, props: BatchTransformDefinitionProps) {
  const invoke = (id: string, payload: Record<string, unknown>, resultPath: string) => {
    const task = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: props.fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout: sfn.Timeout.duration(props.taskTimeout ?? Duration.minutes(15)),
    });
    task.addRetry({ errors: [...LAMBDA_TRANSIENT_ERRORS], ...TRANSIENT_RETRY, jitterStrategy: sfn.JitterType.FULL });
    task.addRetry({ errors: [LAMBDA_THROTTLE_ERROR], ...THROTTLE_RETRY, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };
  const object = {
    'bucket.$': '$.bucket',
    'key.$': '$.key',
    'etag.$': '$.etag',
  };

  const failed = new sfn.Fail(scope, 'JobFailed', {
    error: 'BatchJobFailed',
    cause: 'a step failed; see batch-results/<model>/<job>/report.json',
  });
  const recordFailure = invoke(
    'RecordFailure',
    { step: 'fail', ...object, 'execution.$': '$$.Execution.Name', 'error.$': '$.error' },
    '$.failure',
  );
  recordFailure.addCatch(failed, { resultPath: '$.recordError' });
  recordFailure.next(failed);
  const onError = <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T): T => {
    state.addCatch(recordFailure, { resultPath: '$.error' });
    return state;
  };

  const start = onError(invoke('Start', { step: 'start', ...object, 'execution.$': '$$.Execution.Name' }, '$.start'));
  const scoreBatch = invoke(
    'ScoreBatch',
    { step: 'score', 'BatchInput.$': '$.BatchInput', 'Items.$': '$.Items' },
    sfn.JsonPath.DISCARD,
  );
  const scoreChunks = onError(
    new sfn.DistributedMap(scope, 'ScoreChunks', {
      itemReader: new sfn.S3JsonItemReader({
        // The bucket from the input (the upload's, checked by Start) rather than an IBucket, so
        // CDK adds no s3:GetObject on the whole bucket: the construct grants batch-results/ only.
        bucketNamePath: sfn.JsonPath.stringAt('$.bucket'),
        key: sfn.JsonPath.stringAt('$.start.chunkPlanKey'),
      }),
      itemBatcher: new sfn.ItemBatcher({
        maxItemsPerBatch: props.chunksPerBatch,
        batchInput: { 'model.$': '$.start.model', 'job.$': '$.start.job' },
      }),
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultPath: sfn.JsonPath.DISCARD,
    }),
  );
  scoreChunks.itemProcessor(scoreBatch);
  const finish = onError(
    invoke('Finish', { step: 'finish', 'model.$': '$.start.model', 'job.$': '$.start.job' }, '$.finish'),
  );

  return start.next(
    new sfn.Choice(scope, 'Started?')
      .when(sfn.Condition.stringEquals('$.start.status', 'refused'), new sfn.Succeed(scope, 'Refused'))
      .when(
        sfn.Condition.stringEquals('$.start.status', 'duplicate'),
        new sfn.Succeed(scope, 'Duplicate', { comment: 'another execution holds this job; nothing scored' }),
      )
      .otherwise(scoreChunks.next(finish).next(new sfn.Succeed(scope, 'Done'))),
  );
}
