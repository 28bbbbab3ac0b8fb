import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { InferenceApi, type InferenceApiProps, inferenceSettings } from '../../lib/constructs/inference-api';
import {
  InferenceFunction,
  inferenceBundling,
  keepOnlyLambdaBinaryCommand,
  postResponsePreloadCommand,
} from '../../lib/constructs/inference-function';
import { runBundlingHook } from '../helpers/bundling-hook';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const FIXTURE_MODELS = join(__dirname, '..', 'fixtures');

/** A stack holding one InferenceApi; bundling is skipped (context) so the test runs in seconds. */
function synth(props: Partial<InferenceApiProps> = {}): { template: Template; stack: Stack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Inference', { env: { account: '111122223333', region: 'eu-west-1' } });
  const modelBucket = new s3.Bucket(stack, 'ModelBucket');
  new InferenceApi(stack, 'Inference', { modelBucket, ...props });
  return { template: Template.fromStack(stack), stack };
}

/** Every statement of every IAM policy in the template (the function's role is the only one). */
function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('InferenceApi', () => {
  const { template } = synth({ defaultModel: 'iris' });

  test('the function runs Node.js 24 on x86_64 with tracing, 1 GB and a 10 s timeout', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Architectures: ['x86_64'],
      MemorySize: 1024,
      Timeout: 10,
      TracingConfig: { Mode: 'Active' },
    });
  });

  test('the function is configured through its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MODEL_BUCKET: { Ref: Match.stringLikeRegexp('ModelBucket') },
          DEFAULT_MODEL: 'iris',
          // The try-it page links to the region's CloudWatch dashboards (the platform's one is named in the monitoring stack).
          DASHBOARD_URL: {
            'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('cloudwatch/home\\?region=')])],
          },
          MODEL_TTL_SECONDS: '60',
          MAX_BATCH: '1000',
          SAGEMAKER_ENDPOINTS: '{}',
          POWERTOOLS_SERVICE_NAME: 'inference',
          POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
          // The preload registers the post-response hold (lambdas/inference/post-response-extension.ts) before the runtime starts.
          NODE_OPTIONS: '--enable-source-maps --import=/var/task/post-response-extension.mjs',
        }),
      },
    });
  });

  test('the function logs to a group that keeps logs for a month', () => {
    const group = template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(Object.keys(group)).toContain(fn.Properties.LoggingConfig.LogGroup.Ref);
  });

  test('every path reaches the function through a payload v2 Lambda proxy', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
  });

  test('the default stage is throttled, auto-deployed and access-logged', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  test('the function can read objects under registry/ only, and write nothing', () => {
    const all = statements(template);
    const objectReads = all.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:GetObject')));
    expect(objectReads).not.toHaveLength(0);
    for (const s of objectReads) {
      const objectArns = JSON.stringify(s.Resource).match(/"\/[^"]*"/g) ?? [];
      expect(objectArns).toEqual(['"/registry/*"']);
    }
    const writes = all
      .flatMap(actionsOf)
      .filter((a) => /^s3:(Put|Delete|Abort|Replicate|Restore|\*)/.test(a) || a === '*');
    expect(writes).toEqual([]);
  });

  test('no SageMaker permission unless endpoints are configured', () => {
    expect(
      statements(template)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('sagemaker:')),
    ).toEqual([]);
  });

  test('configured SageMaker endpoints, and only those, may be invoked', () => {
    const { template: t } = synth({ sagemakerEndpoints: { big: 'Big-Endpoint', other: 'other-endpoint' } });
    const invoke = statements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('sagemaker:')));
    expect(invoke).toEqual([
      expect.objectContaining({
        Action: 'sagemaker:InvokeEndpoint',
        Effect: 'Allow',
        Resource: [
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:eu-west-1:111122223333:endpoint/big-endpoint'],
            ],
          },
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:eu-west-1:111122223333:endpoint/other-endpoint'],
            ],
          },
        ],
      }),
    ]);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SAGEMAKER_ENDPOINTS: JSON.stringify({ big: 'Big-Endpoint', other: 'other-endpoint' }),
        }),
      },
    });
  });

  test('settings and architecture come from props', () => {
    const { template: t } = synth({
      architecture: lambda.Architecture.ARM_64,
      memorySize: 2048,
      maxBatch: 50,
      modelTtl: Duration.minutes(5),
      throttling: { rateLimit: 10, burstLimit: 20 },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      MemorySize: 2048,
      Environment: {
        Variables: Match.objectLike({ MAX_BATCH: '50', MODEL_TTL_SECONDS: '300', DEFAULT_MODEL: Match.absent() }),
      },
    });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
  });

  test('a bundled models folder is announced to the function', () => {
    const { template: t } = synth({ bundledModelsDir: FIXTURE_MODELS });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ BUNDLED_MODELS_DIR: '/var/task/bundled-models' }) },
    });
  });
});

describe('InferenceApi props validation', () => {
  const bucket = s3.Bucket.fromBucketName(new Stack(), 'B', 'models');

  test.each([
    ['maxBatch is 0', { maxBatch: 0 }, /maxBatch must be a whole number from 1 to 10000, got 0/],
    ['maxBatch is above 10000', { maxBatch: 10_001 }, /maxBatch must be a whole number from 1 to 10000, got 10001/],
    ['maxBatch is fractional', { maxBatch: 2.5 }, /maxBatch .* got 2.5/],
    [
      'memorySize is below 128 MB',
      { memorySize: 64 },
      /memorySize must be a whole number of MB from 128 to 10240, got 64/,
    ],
    [
      'modelTtl is over an hour',
      { modelTtl: Duration.hours(2) },
      /modelTtl must be whole seconds from 0 to 3600, got 7200 s/,
    ],
    [
      'modelTtl is not whole seconds',
      { modelTtl: Duration.millis(1500) },
      /modelTtl must be whole seconds .* got 1.5 s/,
    ],
    [
      'throttling.rateLimit is 0',
      { throttling: { rateLimit: 0, burstLimit: 10 } },
      /throttling.rateLimit must be .* > 0, got 0/,
    ],
    [
      'throttling.burstLimit is fractional',
      { throttling: { rateLimit: 10, burstLimit: 0.5 } },
      /throttling.burstLimit must be a whole number of requests from 1 to 5000, got 0.5/,
    ],
    [
      'defaultModel is a path',
      { defaultModel: '../iris' },
      /defaultModel: model name "..\/iris" is not valid: use 1-64 lower-case letters/,
    ],
    [
      'defaultModel has capitals, which the registry refuses',
      { defaultModel: 'Iris' },
      /defaultModel: model name "Iris" is not valid/,
    ],
    [
      'a SageMaker model name is a path',
      { sagemakerEndpoints: { 'a/b': 'ep' } },
      /sagemakerEndpoints key: model name "a\/b" is not valid/,
    ],
    [
      'a SageMaker endpoint name is invalid',
      { sagemakerEndpoints: { big: 'not_valid' } },
      /sagemakerEndpoints\["big"\] must be a SageMaker endpoint name .* got "not_valid"/,
    ],
  ] as const)('fails early when %s', (_, props, message) => {
    expect(() => inferenceSettings({ modelBucket: bucket, ...props })).toThrow(message);
  });

  test('fails when the bundled models folder does not exist', () => {
    expect(() => synth({ bundledModelsDir: '/nonexistent/models' })).toThrow(
      /bundledModelsDir must be an existing folder of models, got \/nonexistent\/models/,
    );
  });

  test('defaults are valid', () => {
    expect(inferenceSettings({ modelBucket: bucket })).toEqual({
      modelTtlSeconds: 60,
      maxBatch: 1000,
      memorySize: 1024,
      throttling: { rateLimit: 100, burstLimit: 200 },
      sagemakerEndpoints: {},
      // Without a spec, a model is not captured (nothing would expire its captures).
      capture: { '*': { enabled: false, sampleRate: 0, retentionDays: 1 } },
    });
  });
});

describe('inference bundling', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'inference-bundling-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('bundles with local esbuild, installs onnxruntime-node without its CUDA download, leaves the AWS SDK to the runtime', () => {
    const options = inferenceBundling(lambda.Architecture.X86_64);
    expect(options).toMatchObject({
      forceDockerBundling: false,
      sourceMap: true,
      // Stack traces still map to file:line (test/integration/inference-bundle.test.ts); a smaller map and bundle to load at init.
      sourcesContent: false,
      mainFields: ['module', 'main'],
      nodeModules: ['onnxruntime-node'],
      environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
      externalModules: ['@aws-sdk/*'],
    });
  });

  test('a function with another handler entry gets no post-response preload (it would never report its invocations to the hold)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Custom', { env: { account: '111122223333', region: 'eu-west-1' } });
    new InferenceFunction(stack, 'Fn', { entry: join(__dirname, '..', '..', 'lambdas', 'monitoring', 'handler.ts') });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  test('the function bundles the post-response preload beside the handler; other users of the bundling (the pipeline function) do not', () => {
    const hooks = (postResponseHold: boolean) =>
      inferenceBundling(lambda.Architecture.X86_64, undefined, { postResponseHold }).commandHooks?.afterBundling(
        '/repo',
        '/out',
      ) ?? [];
    expect(hooks(true)).toContain(postResponsePreloadCommand('/repo', '/out'));
    expect(hooks(true).at(-1)).toMatch(
      /bundling-hook\.mjs' 'preload' '\/repo' .*'\/out\/post-response-extension\.mjs'$/,
    );
    expect(hooks(false).join('\n')).not.toContain('post-response');
  });

  test.each([
    [lambda.Architecture.X86_64, 'x64'],
    [lambda.Architecture.ARM_64, 'arm64'],
  ])('the after-bundling hook keeps only the Lambda binary for %s', async (architecture, arch) => {
    const out = join(scratch, `out-${arch}`);
    const binaries = join(out, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    for (const platform of ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64', 'win32/arm64']) {
      mkdirSync(join(binaries, platform), { recursive: true });
      writeFileSync(join(binaries, platform, 'onnxruntime_binding.node'), 'binary');
    }
    await runBundlingHook(keepOnlyLambdaBinaryCommand(out, architecture));
    expect(readdirSync(binaries)).toEqual(['linux']);
    expect(readdirSync(join(binaries, 'linux'))).toEqual([arch]);
    expect(existsSync(join(binaries, 'linux', arch, 'onnxruntime_binding.node'))).toBe(true);
  });

  test('the after-bundling hook fails when the Lambda binary is missing', async () => {
    const out = join(scratch, 'out-missing');
    mkdirSync(join(out, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'darwin', 'arm64'), { recursive: true });
    await expect(runBundlingHook(keepOnlyLambdaBinaryCommand(out, lambda.Architecture.X86_64))).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no linux\/x64 binary/),
    });
    expect(readdirSync(join(out, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6'))).toEqual(['darwin']);
  });
});
