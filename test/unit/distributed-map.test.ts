import { withLocalDistributedMaps } from '../../local/distributed-map';
import { runStateMachine, type TaskHandler } from '../../local/state-machine';

/**
 * The local stand-in for a Distributed Map (local/distributed-map.ts), on a hand-written
 * definition shaped as CDK synthesises one: ItemReader over an S3 JSON array, ItemBatcher with
 * BatchInput, MaxConcurrency, ToleratedFailurePercentage, and the Map's ResultPath and Catch kept.
 */

const FN = 'arn:aws:lambda:us-east-1:123456789012:function:Child';

function definition(tolerated: number) {
  return {
    StartAt: 'Map',
    States: {
      Map: {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.bucket', 'Key.$': '$.key' },
        },
        ItemBatcher: { MaxItemsPerBatch: 3, BatchInput: { 'job.$': '$.job' } },
        MaxConcurrency: 2,
        ToleratedFailurePercentage: tolerated,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Child',
          States: { Child: { Type: 'Task', Resource: FN, End: true } },
        },
        ResultPath: '$.results',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  };
}

describe('the local Distributed Map', () => {
  const objects: Record<string, string> = { 'b/items.json': JSON.stringify([1, 2, 3, 4, 5, 6, 7]) };
  const readObject = async (bucket: string, key: string) => objects[`${bucket}/${key}`];

  test('reads the items from S3, batches them with BatchInput, runs at most MaxConcurrency children, results in item order', async () => {
    let running = 0;
    let most = 0;
    const child: TaskHandler = async (input) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      const { BatchInput, Items } = input as { BatchInput: { job: string }; Items: number[] };
      return `${BatchInput.job}:${Items.join('+')}`;
    };
    const local = withLocalDistributedMaps(definition(0), { readObject, taskHandlers: { [FN]: child } });
    const result = await runStateMachine(
      local.definition,
      { bucket: 'b', key: 'items.json', job: 'j' },
      { taskHandlers: local.taskHandlers },
    );
    expect(result).toEqual({
      status: 'SUCCEEDED',
      output: { bucket: 'b', key: 'items.json', job: 'j', results: ['j:1+2+3', 'j:4+5+6', 'j:7'] },
    });
    expect(most).toBe(2);
  });

  const failing: TaskHandler = async (input) => {
    if ((input as { Items: number[] }).Items.includes(7)) throw new Error('boom');
    return 'ok';
  };
  const runFailing = async (tolerated: number, toleratedCount?: number) => {
    const withLimits = definition(tolerated);
    if (toleratedCount !== undefined)
      (withLimits.States.Map as Record<string, unknown>).ToleratedFailureCount = toleratedCount;
    const local = withLocalDistributedMaps(withLimits, { readObject, taskHandlers: { [FN]: failing } });
    const result = await runStateMachine(
      local.definition,
      { bucket: 'b', key: 'items.json', job: 'j' },
      { taskHandlers: local.taskHandlers },
    );
    return (result as { output: { error?: { Error: string }; results?: unknown[] } }).output;
  };

  test('a failing child beyond the tolerated percentage fails the Map with States.ExceedToleratedFailureThreshold', async () => {
    expect((await runFailing(0)).error?.Error).toBe('States.ExceedToleratedFailureThreshold');
  });

  test('a failing child within the tolerated percentage leaves its error in the results', async () => {
    expect((await runFailing(50)).results).toEqual(['ok', 'ok', { Error: 'Error', Cause: 'boom' }]);
  });

  test('with a count beside the percentage, exceeding either fails the Map (as in AWS)', async () => {
    // 1 of 3 children fails: within 50 %, beyond a count of 0.
    expect((await runFailing(50, 0)).error?.Error).toBe('States.ExceedToleratedFailureThreshold');
    expect((await runFailing(50, 1)).results).toEqual(['ok', 'ok', { Error: 'Error', Cause: 'boom' }]);
  });

  test('refuses what it does not run instead of ignoring it', () => {
    const withWriter = definition(0);
    (withWriter.States.Map as Record<string, unknown>).ResultWriter = { Resource: 'arn:aws:states:::s3:putObject' };
    expect(() => withLocalDistributedMaps(withWriter, { readObject, taskHandlers: {} })).toThrow(/uses ResultWriter/);
  });
});
