import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { PIPELINE_ERRORS } from '../../core/pipeline/errors';
import { LAMBDA_THROTTLE_ERROR, LAMBDA_TRANSIENT_ERRORS } from '../../lib/constructs/retraining-definition';
import { RetrainingPipeline } from '../../lib/constructs/retraining-pipeline';
import { allStates, renderedDefinition } from '../../local/state-machine';

type Retrier = { ErrorEquals: string[] };
type Catcher = { ErrorEquals: string[]; Next: string; ResultPath?: string };
type State = { Type: string; Resource?: unknown; Retry?: Retrier[]; Catch?: Catcher[]; Parameters?: unknown };

function definition() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Pipeline');
  const pipeline = new RetrainingPipeline(stack, 'Retraining', {
    dataBucket: new s3.Bucket(stack, 'DataBucket'),
    modelBucket: new s3.Bucket(stack, 'ModelBucket'),
    models: [{ name: 'iris' }],
  });
  return renderedDefinition(stack, pipeline.stateMachine) as { States: Record<string, State> };
}

describe('the retraining definition routes the pipeline typed errors', () => {
  const asl = definition();
  const states = allStates(asl as never) as unknown as [string, State][];
  const lambdaSteps = states.filter(
    ([, s]) => s.Type === 'Task' && JSON.stringify(s.Parameters ?? '').includes('"step"'),
  );
  const typedNames = PIPELINE_ERRORS.map((E) => new (E as new (problems: string[]) => Error)([]).name);

  test('a Lambda step retries exactly Lambda transient errors and throttles: none of the typed (deterministic) errors, no catch-all', () => {
    expect(lambdaSteps.length).toBeGreaterThan(5);
    for (const [name, state] of lambdaSteps) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals).sort();
      expect({ name, retried }).toEqual({ name, retried: [...LAMBDA_TRANSIENT_ERRORS, LAMBDA_THROTTLE_ERROR].sort() });
    }
  });

  test('no Retry anywhere names a typed pipeline error, States.ALL or States.TaskFailed on a Lambda step', () => {
    for (const [name, state] of states) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      for (const typed of typedNames)
        expect({ name, retries: retried.includes(typed) }).toEqual({ name, retries: false });
      expect({ name, retriesAll: retried.includes('States.ALL') }).toEqual({ name, retriesAll: false });
    }
  });

  test('every step outside the training Map catches everything into RecordFailure with the error at $.error, so the record gets its name', () => {
    const topLevel = lambdaSteps.filter(([name]) => name in asl.States && name !== 'RecordFailure');
    expect(topLevel.map(([name]) => name)).toEqual(expect.arrayContaining(['Validate', 'Prepare', 'Evaluate']));
    for (const [name, state] of topLevel) {
      expect({ name, catch: state.Catch }).toEqual({
        name,
        catch: [{ ErrorEquals: ['States.ALL'], Next: 'RecordFailure', ResultPath: '$.error' }],
      });
    }
    // The training Map too: an item fails with its step's own error, which the Map passes on.
    expect(asl.States.TrainCandidates.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordFailure', ResultPath: '$.error' },
    ]);
  });
});
