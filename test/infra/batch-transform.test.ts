import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BatchTransform, type BatchTransformProps } from '../../lib/constructs/batch-transform';
import { allStates, renderedDefinition } from '../../local/state-machine';
import { testApp } from '../helpers/cdk-app';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type AslState = {
  Type: string;
  Retry?: unknown[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  ItemReader?: { Resource: string; ReaderConfig: { InputType: string }; Parameters: Record<string, string> };
  ItemBatcher?: { MaxItemsPerBatch: number; BatchInput: Record<string, string> };
  MaxConcurrency?: number;
  ToleratedFailurePercentage?: number;
  ItemProcessor?: { ProcessorConfig: { Mode: string; ExecutionType: string }; States: Record<string, AslState> };
};

/** A stack holding one BatchTransform; bundling skipped so the test runs in seconds. */
function synth(props: Partial<BatchTransformProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Batch', { env: { account: '111122223333', region: 'eu-west-1' } });
  const dataBucket = new s3.Bucket(stack, 'DataBucket', { eventBridgeEnabled: true });
  const modelBucket = new s3.Bucket(stack, 'ModelBucket');
  const batch = new BatchTransform(stack, 'BatchTransform', { dataBucket, modelBucket, ...props });
  const definition = renderedDefinition(stack, batch.stateMachine) as { States: Record<string, AslState> };
  return { template: Template.fromStack(stack), stack, batch, definition };
}

const statementsOf = (template: Template, roleMatch: RegExp): Statement[] =>
  Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([id]) => roleMatch.test(id))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourceText = (s: Statement) => JSON.stringify(s.Resource);

describe('BatchTransform', () => {
  const { template, definition } = synth({ maxConcurrency: 25, chunksPerBatch: 3, toleratedFailurePercentage: 5 });
  const states = Object.fromEntries(allStates(definition as never)) as unknown as Record<string, AslState>;

  test('scores chunks with a Distributed Map reading the chunk plan from S3, batched, with the configured limits', () => {
    const map = states.ScoreChunks;
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor?.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(map.ItemReader).toMatchObject({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { 'Bucket.$': '$.bucket', 'Key.$': '$.start.chunkPlanKey' },
    });
    expect(map.ItemBatcher).toMatchObject({ MaxItemsPerBatch: 3, BatchInput: { 'model.$': '$.start.model' } });
    expect(map.MaxConcurrency).toBe(25);
    expect(map.ToleratedFailurePercentage).toBe(5);
  });

  test('Start claims the job for this execution; a duplicate (job held by another execution) ends without scoring', () => {
    // payloadResponseOnly: the Parameters are the function's event.
    const start = states.Start as AslState & { Parameters: Record<string, string>; Next: string };
    expect(start.Parameters).toMatchObject({ step: 'start', 'execution.$': '$$.Execution.Name' });
    const fail = states.RecordFailure as AslState & { Parameters: Record<string, string> };
    expect(fail.Parameters).toMatchObject({ step: 'fail', 'execution.$': '$$.Execution.Name' });
    const choice = states[start.Next] as AslState & {
      Choices: { Variable: string; StringEquals: string; Next: string }[];
      Default: string;
    };
    expect(choice.Type).toBe('Choice');
    const next = Object.fromEntries(choice.Choices.map((c) => [`${c.Variable}=${c.StringEquals}`, c.Next]));
    expect(states[next['$.start.status=duplicate']].Type).toBe('Succeed');
    expect(states[next['$.start.status=refused']].Type).toBe('Succeed');
    expect(next['$.start.status=duplicate']).not.toBe('ScoreChunks');
    expect(choice.Default).toBe('ScoreChunks');
  });

  test('every task and the Map retry and catch into the failure record', () => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task' && !(state.Type === 'Map')) continue;
      expect([name, (state.Retry ?? []).length > 0 || state.Type === 'Map']).toEqual([name, true]);
      // ScoreBatch runs inside the Map: a child's failure is the Map's, which is caught.
      if (name === 'ScoreBatch') continue;
      const catchers = (state as AslState).Catch ?? [];
      expect([name, catchers.map((c) => c.Next)]).toEqual([
        name,
        [name === 'RecordFailure' ? 'JobFailed' : 'RecordFailure'],
      ]);
    }
    expect(states.JobFailed.Type).toBe('Fail');
  });

  test('an upload under batch/ starts a job with the bucket, key and ETag', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        'detail-type': ['Object Created'],
        detail: Match.objectLike({ object: { key: [{ prefix: 'batch/' }] } }),
      }),
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
  });

  test('the function reads uploads but never writes or deletes them, and writes only under batch-results/', () => {
    const fn = statementsOf(template, /FunctionRole/);
    const onUploads = fn.filter((s) => resourceText(s).includes('/batch/*'));
    expect(onUploads.flatMap(actionsOf)).toEqual(['s3:GetObject']);
    const writes = fn.filter((s) => actionsOf(s).includes('s3:PutObject'));
    expect(writes.length).toBeGreaterThan(0);
    for (const s of writes) expect(resourceText(s)).toContain('/batch-results/*');
    expect(fn.flatMap(actionsOf)).not.toContain('s3:DeleteObject');
    const registry = fn.filter((s) => resourceText(s).includes('/registry/*'));
    expect(registry.flatMap(actionsOf)).toEqual(['s3:GetObject']);
  });

  test('the state machine reads the chunk plan under batch-results/ only, not the whole bucket', () => {
    const sm = statementsOf(template, /StateMachineRole/);
    const gets = sm.filter((s) => actionsOf(s).includes('s3:GetObject'));
    expect(gets.length).toBeGreaterThan(0);
    for (const s of gets) expect(resourceText(s)).toContain('/batch-results/*');
    expect(sm.flatMap(actionsOf).filter((a) => a.endsWith('*'))).toEqual([]);
  });

  test('fails when a limit is out of range, naming what was received', () => {
    expect(() => synth({ maxConcurrency: 0, chunksPerBatch: 500 })).toThrow(
      /maxConcurrency must be a whole number from 1 to 10000, got 0; chunksPerBatch must be a whole number from 1 to 100, got 500/,
    );
  });
});

test('cdk-nag (AwsSolutions, Serverless) finds nothing unacknowledged in the batch transform', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'batch-nag-'));
  try {
    // A fresh app: Template.fromStack synthesises once and caches, and the plugins run only on the first synth.
    const app = testApp({ outdir });
    const stack = new Stack(app, 'Batch', { env: { account: '111122223333', region: 'eu-west-1' } });
    const dataBucket = new s3.Bucket(stack, 'DataBucket', { eventBridgeEnabled: true });
    new BatchTransform(stack, 'BatchTransform', { dataBucket, modelBucket: new s3.Bucket(stack, 'ModelBucket') });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    let failure: unknown;
    try {
      app.synth();
    } catch (error) {
      failure = error;
    }
    // The packs' findings, each "<rule> <construct path>", from the validation error.
    const text = failure instanceof Error ? failure.message : '';
    const findings = [...text.matchAll(/\n\s+(Batch\/\S+)[^\n]*\n\s+Acknowledge with '([^']+)'/g)].map(
      (m) => `${m[2]} ${m[1]}`,
    );
    if (process.env.PRINT_NAG) console.log(findings);
    // The test stack's own buckets (no access logs, no SSL policy) prove the packs ran; the construct has none.
    expect(findings.some((f) => f.includes('Batch/DataBucket/'))).toBe(true);
    expect(findings.filter((f) => f.includes('Batch/BatchTransform/'))).toEqual([]);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
