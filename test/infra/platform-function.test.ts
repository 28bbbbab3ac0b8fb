import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { METRICS_NAMESPACE, METRICS_SERVICES } from '../../core/contracts/metrics';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { PROJECT_ROOT } from '../../lib/constructs/project-root';
import { InferenceStack } from '../../lib/stacks/inference-stack';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { testApp } from '../helpers/cdk-app';

const ENTRY = join(PROJECT_ROOT, 'lambdas', 'rollout', 'handler.ts');

function stack() {
  const s = new Stack(testApp(), 'S');
  return { stack: s, bucket: new s3.Bucket(s, 'Models') };
}

describe('every function of the platform is a PlatformFunction', () => {
  const app = testApp();
  const storage = new StorageStack(app, 'Storage');
  const pipeline = new PipelineStack(app, 'Pipeline', {
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs: loadModelSpecs(join(PROJECT_ROOT, 'config', 'models')),
  });
  const inference = new InferenceStack(app, 'Inference', {
    modelBucket: storage.modelBucket,
    dataBucket: storage.dataBucket,
  });
  const functions = [pipeline, inference].flatMap((s) =>
    Object.entries(
      Template.fromStack(s).findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }),
    ).map(([id, f]) => ({ id, properties: f.Properties })),
  );

  test('the same runtime, tracing, source maps and own log group for each, whichever construct made it', () => {
    expect(functions.map((f) => f.id).length).toBeGreaterThanOrEqual(5);
    for (const { id, properties } of functions) {
      expect({
        id,
        runtime: properties.Runtime,
        tracing: properties.TracingConfig,
        logs: properties.LoggingConfig,
      }).toEqual({
        id,
        runtime: 'nodejs24.x',
        tracing: { Mode: 'Active' },
        logs: { LogGroup: { Ref: expect.stringMatching(/Logs/) } },
      });
      expect(properties.Environment.Variables.NODE_OPTIONS).toMatch(/^--enable-source-maps\b/);
    }
  });

  test('the functions that publish metrics name their service and the namespace in the same two variables', () => {
    const publishing = functions.filter((f) => f.properties.Environment.Variables.POWERTOOLS_SERVICE_NAME);
    expect(publishing.map((f) => f.properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual(
      Object.values(METRICS_SERVICES).sort(),
    );
    for (const f of publishing)
      expect(f.properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
  });
});

describe('PlatformFunction', () => {
  test('keeps the log group and role beside the function, where the constructs had them (their logical IDs are deployed state)', () => {
    const { stack: s } = stack();
    const fn = new PlatformFunction(s, 'Function', {
      entry: ENTRY,
      purpose: 'test function',
      invokedSynchronouslyBy: 'a test',
    });
    expect(s.node.tryFindChild('FunctionLogs')).toBeDefined();
    expect(s.node.tryFindChild('FunctionRole')).toBe(fn.role);
  });

  test('fails at synth when it has neither a dead-letter queue nor a synchronous caller, naming both options', () => {
    const { stack: s } = stack();
    expect(() => new PlatformFunction(s, 'Function', { entry: ENTRY, purpose: 'test function' })).toThrow(
      /set deadLetterQueue .* or invokedSynchronouslyBy/,
    );
    expect(
      () =>
        new PlatformFunction(s, 'WithQueue', {
          entry: ENTRY,
          purpose: 'test function',
          deadLetterQueue: new sqs.Queue(s, 'Q'),
        }),
    ).not.toThrow();
  });

  test('fails at synth for onnxruntime on an architecture it has no binary for', () => {
    const { stack: s } = stack();
    expect(
      () =>
        new PlatformFunction(s, 'Function', {
          entry: ENTRY,
          purpose: 'test function',
          invokedSynchronouslyBy: 'a test',
          onnxRuntime: true,
          architecture: lambda.Architecture.custom('riscv64'),
        }),
    ).toThrow(/architecture must be x86_64 or arm64, got riscv64/);
  });

  test('grantReadModels returns an iam.Grant for reads and listings under registry/ only', () => {
    const { stack: s, bucket } = stack();
    const fn = new PlatformFunction(s, 'Function', {
      entry: ENTRY,
      purpose: 'test function',
      invokedSynchronouslyBy: 'a test',
    });
    const grant = fn.grantReadModels(bucket);
    expect(grant.success).toBe(true);
    expect(grant.principalStatements.map((st) => st.toJSON())).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', Resource: expect.stringMatching(/\/registry\/\*$/) }),
      expect.objectContaining({
        Action: 's3:ListBucket',
        Condition: { StringLike: { 's3:prefix': ['registry/*'] } },
      }),
    ]);
    Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: { 'Fn::Join': ['', [Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }), '/registry/*']] },
          }),
        ]),
      },
    });
  });

  test('grantObjects scopes named actions to one prefix and returns the grant', () => {
    const { stack: s, bucket } = stack();
    const fn = new PlatformFunction(s, 'Function', {
      entry: ENTRY,
      purpose: 'test function',
      invokedSynchronouslyBy: 'a test',
    });
    const grant = fn.grantObjects(bucket, 'incoming/', ['s3:GetObject', 's3:DeleteObject']);
    expect(grant.principalStatements.map((st) => st.toJSON().Action)).toEqual([['s3:GetObject', 's3:DeleteObject']]);
  });
});
