import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { secureBucketDefaults } from '../../lib/constructs/secure-bucket';
import { StorageStack } from '../../lib/stacks/storage-stack';

function template(): Template {
  return Template.fromStack(new StorageStack(new App(), 'Storage'));
}

describe('StorageStack', () => {
  const t = template();

  test('every bucket is encrypted, versioned, private and expires old versions', () => {
    const buckets = t.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets).length).toBeGreaterThan(0);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            NoncurrentVersionExpiration: { NoncurrentDays: expect.any(Number) },
            Status: 'Enabled',
          }),
        ]),
      );
    }
  });

  test('every bucket refuses requests that are not over TLS', () => {
    t.allResourcesProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('the data bucket sends object events to EventBridge, so uploads can start retraining', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    // Without a custom resource, so the stack deploys to LocalStack's free tier too.
    expect(t.findResources('Custom::S3BucketNotifications')).toEqual({});
  });

  test('fails early on a nonsensical version retention', () => {
    expect(() => secureBucketDefaults({ noncurrentVersionExpirationDays: 0 })).toThrow(
      /whole number of days >= 1, got 0/,
    );
  });
});
