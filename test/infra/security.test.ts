import { join } from 'node:path';
import { type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { platformConfig } from '../../lib/config';
import { createPlatform } from '../../lib/platform';
import { testApp } from '../helpers/cdk-app';

/**
 * Secure by default, asserted on the whole platform as bin/app.ts builds it: least privilege
 * (no wildcard action anywhere), retained and pinned stateful resources, encrypted/private/
 * SSL-only/versioned buckets with access logs and lifecycle rules, retention on every log group,
 * a DLQ on every asynchronous path, and the optional JWT authorizer.
 */

const SPECS = loadModelSpecs(join(__dirname, '../../config/models'));

function platform(context: unknown = {}) {
  const stacks = createPlatform(testApp(), platformConfig(context, SPECS));
  const templates = Object.fromEntries(
    Object.entries(stacks).map(([name, stack]) => [name, Template.fromStack(stack as Stack)]),
  ) as Record<keyof typeof stacks, Template>;
  return { stacks, templates };
}

const { templates } = platform();
const all = Object.values(templates);

describe('least privilege', () => {
  test('no IAM policy in the platform grants a wildcard action', () => {
    const wildcards = all.flatMap((t) =>
      Object.entries(t.findResources('AWS::IAM::Policy')).flatMap(([id, policy]) =>
        (policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((s) =>
          [s.Action]
            .flat()
            .filter((a) => a.includes('*'))
            .map((a) => `${id}: ${a}`),
        ),
      ),
    );
    expect(wildcards).toEqual([]);
  });

  test('no role uses an AWS managed policy (the functions may write only their own log group)', () => {
    for (const t of all) {
      for (const role of Object.values(t.findResources('AWS::IAM::Role')))
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('the inference function may only read registry/ objects, list under registry/ and write feedback/ labels', () => {
    templates.inference.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^/registry/\\*$')])] },
          }),
          Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['registry/*'] } } }),
          Match.objectLike({
            Action: 's3:PutObject',
            Resource: {
              'Fn::Join': [
                '',
                Match.arrayWith([{ 'Fn::ImportValue': Match.stringLikeRegexp('DataBucket') }, '/feedback/*']),
              ],
            },
          }),
        ]),
      },
    });
    // The capture path's roles (Firehose, CloudWatch Logs) are in this stack too: only the function's policy here.
    const functionPolicies = Object.values(templates.inference.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes('InferenceFunctionRole'),
    );
    const statements = functionPolicies.flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[],
    );
    expect(
      statements
        .flatMap((s) => [s.Action].flat())
        .filter((a) => a.startsWith('s3:'))
        .sort(),
    ).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
  });
});

describe('stateful resources', () => {
  test('bucket logical IDs are pinned: changing one would replace the bucket and lose its data', () => {
    expect(Object.keys(templates.storage.findResources('AWS::S3::Bucket')).sort()).toEqual([
      'AccessLogBucketE546A1FA',
      'DataBucketBD860FE1',
      'ModelBucketEBB1ADF4',
    ]);
  });

  test('every bucket is retained, encrypted, versioned, private, SSL-only and expires old versions', () => {
    const buckets = templates.storage.findResources('AWS::S3::Bucket');
    for (const bucket of Object.values(buckets)) {
      expect(bucket).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LifecycleConfiguration: {
          Rules: expect.arrayContaining([
            expect.objectContaining({ NoncurrentVersionExpiration: expect.anything(), Status: 'Enabled' }),
          ]),
        },
      });
    }
    for (const id of Object.keys(buckets)) {
      templates.storage.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  test('the data and model buckets send S3 server access logs to the access-log bucket', () => {
    for (const [id, prefix] of [
      ['DataBucketBD860FE1', 'DataBucket/'],
      ['ModelBucketEBB1ADF4', 'ModelBucket/'],
    ]) {
      expect(templates.storage.findResources('AWS::S3::Bucket')[id].Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: 'AccessLogBucketE546A1FA' },
        LogFilePrefix: prefix,
      });
    }
  });

  test('termination protection follows platform.terminationProtection (on by default)', () => {
    expect(platform().stacks.storage.terminationProtection).toBe(true);
    expect(platform({ terminationProtection: false }).stacks.storage.terminationProtection).toBe(false);
  });
});

describe('logs and failure paths', () => {
  test('every log group has a retention period (platform.logRetentionDays)', () => {
    const groups = all.flatMap((t) => Object.values(t.findResources('AWS::Logs::LogGroup')));
    expect(groups.length).toBeGreaterThan(0);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
    const longer = Template.fromStack(platform({ logRetentionDays: 365 }).stacks.inference);
    longer.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  test('every EventBridge target (uploads, schedules) has a dead-letter queue and retries', () => {
    const rules = Object.values(templates.pipeline.findResources('AWS::Events::Rule'));
    expect(rules.length).toBeGreaterThan(1);
    for (const rule of rules) {
      for (const target of rule.Properties.Targets)
        expect(target).toMatchObject({
          DeadLetterConfig: { Arn: expect.anything() },
          RetryPolicy: { MaximumRetryAttempts: 10 },
        });
    }
  });

  test('the API access log is one JSON object per request', () => {
    const stage = Object.values(templates.inference.findResources('AWS::ApiGatewayV2::Stage'))[0];
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format)).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
    });
  });
});

describe('optional JWT authorization of the inference API', () => {
  test('without platform.auth no route has an authorizer', () => {
    expect(templates.inference.findResources('AWS::ApiGatewayV2::Authorizer')).toEqual({});
    const routes = Object.values(templates.inference.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.AuthorizationType ?? 'NONE')).toEqual(['NONE', 'NONE']);
  });

  test('with platform.auth every route needs a JWT from the issuer, except GET and HEAD /health', () => {
    const secured = Template.fromStack(
      platform({ auth: { issuer: 'https://login.example.com/', audience: ['client-a'] } }).stacks.inference,
    );
    secured.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['client-a'] },
      IdentitySource: ['$request.header.Authorization'],
    });
    const routes = Object.values(secured.findResources('AWS::ApiGatewayV2::Route')).map((r) => [
      r.Properties.RouteKey,
      r.Properties.AuthorizationType ?? 'NONE',
    ]);
    expect(routes.sort()).toEqual([
      ['ANY /{proxy+}', 'JWT'],
      ['GET /', 'JWT'],
      ['GET /health', 'NONE'],
      ['HEAD /health', 'NONE'],
    ]);
  });

  test('CORS is off unless platform.cors names origins; then API Gateway answers preflights for those origins with the methods and headers the API uses', () => {
    expect(
      templates.inference.findResources('AWS::ApiGatewayV2::Api', {
        Properties: { CorsConfiguration: Match.anyValue() },
      }),
    ).toEqual({});
    const open = Template.fromStack(platform({ cors: { allowOrigins: ['https://app.example.com'] } }).stacks.inference);
    open.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://app.example.com'],
        AllowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
        AllowHeaders: ['content-type', 'content-encoding', 'authorization', 'x-caller-id'],
        ExposeHeaders: ['x-inference-id', 'x-model-version', 'x-model-variant'],
        MaxAge: 600,
      },
    });
    expect(() => platform({ cors: { allowOrigins: ['https://app.example.com/'] } })).toThrow(
      /cors\.allowOrigins: "https:\/\/app\.example\.com\/" is not an origin/,
    );
  });
});
