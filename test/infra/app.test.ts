import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { join } from 'node:path';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { platformConfig } from '../../lib/config';
import { createPlatform } from '../../lib/platform';
import { renderedDefinition } from '../../local/state-machine';
import { CDK_JSON_CONTEXT, testApp } from '../helpers/cdk-app';
import { InferenceStack } from '../../lib/stacks/inference-stack';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';

describe('the app wiring', () => {
  // Bundling is skipped here (it runs in `npm run synth`); the wiring is what is under test.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const storage = new StorageStack(app, 'Storage');
  const inference = new InferenceStack(app, 'Inference', {
    modelBucket: storage.modelBucket,
    api: { defaultModel: 'iris' },
  });
  const specs = loadModelSpecs(join(__dirname, '../../config/models'));
  const pipeline = Template.fromStack(
    new PipelineStack(app, 'Pipeline', { dataBucket: storage.dataBucket, modelBucket: storage.modelBucket, specs }),
  );
  const template = Template.fromStack(inference);

  test("the inference function reads the storage stack's model bucket and serves the default model", () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (r) => r.Properties.Environment?.Variables?.MODEL_BUCKET,
    );
    expect(fn?.Properties.Environment.Variables).toMatchObject({
      DEFAULT_MODEL: 'iris',
      MODEL_BUCKET: { 'Fn::ImportValue': expect.stringContaining('ModelBucket') },
    });
  });

  test('the API URL is an output, so deploy prints where to send requests', () => {
    template.hasOutput('ApiUrl', { Description: 'Base URL of the inference API' });
  });

  test('the stateful buckets stay in the storage stack, not in the replaceable inference stack', () => {
    expect(Object.keys(template.findResources('AWS::S3::Bucket'))).toEqual([]);
  });

  test('the pipeline gets one schedule rule per model spec that has a schedule', () => {
    // The monitoring job's schedules (one per model, the Lambda as target) are not retraining starts.
    const startsRetraining = (r: { Properties?: { Targets?: { Arn?: unknown }[] } }) =>
      (r.Properties?.Targets ?? []).some((t) => JSON.stringify(t.Arn).includes('StateMachine'));
    const scheduled = Object.values(pipeline.findResources('AWS::Events::Rule')).filter(
      (r) => r.Properties.ScheduleExpression && startsRetraining(r),
    );
    expect(scheduled.map((r) => r.Properties.ScheduleExpression).sort()).toEqual(
      specs.flatMap((s) => (s.schedule ? [s.schedule] : [])).sort(),
    );
    pipeline.hasOutput('StateMachineArn', {});
  });
});

describe("the training Map's concurrency, from the platform config", () => {
  const specs = loadModelSpecs(join(__dirname, '../../config/models'));
  const mapOf = (context: unknown) => {
    const stacks = createPlatform(testApp(), platformConfig(context, specs));
    const definition = renderedDefinition(stacks.pipeline, stacks.pipeline.pipeline.stateMachine) as {
      States: Record<string, unknown>;
    };
    return definition.States.TrainCandidates;
  };

  test("cdk.json's platform context sets it (5, the default, written out)", () => {
    expect(mapOf(CDK_JSON_CONTEXT.platform)).toMatchObject({ Type: 'Map', MaxConcurrency: 5 });
  });

  test('a context without it gets the default, one with it gets its value', () => {
    expect(mapOf({})).toMatchObject({ MaxConcurrency: 5 });
    expect(mapOf({ pipeline: { maxConcurrency: 12 } })).toMatchObject({ MaxConcurrency: 12 });
  });
});
