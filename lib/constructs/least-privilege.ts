import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { Construct, IConstruct } from 'constructs';

/**
 * Grants spelled out action by action, instead of CDK's grantRead/grantPut (s3:GetObject*,
 * s3:List*, ...) and the AWSLambdaBasicExecutionRole managed policy (logs on every group): a
 * function may touch only the key prefixes and the log group it needs. test/infra/security.test.ts
 * checks that no policy in the platform names a wildcard action.
 */

/** `s3:AbortMultipartUpload` only for writers that upload large objects in parts (Firehose). */
export type ObjectAction = 's3:GetObject' | 's3:PutObject' | 's3:DeleteObject' | 's3:AbortMultipartUpload';

/** A Lambda execution role that can write to its own log group only. */
export function functionRole(scope: Construct, id: string, logGroup: logs.ILogGroup): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Lambda execution role: its own log group, and the grants its construct adds',
  });
  logGroup.grantWrite(role);
  return role;
}

/** Named object actions on the keys under `prefix` (e.g. 'registry/'). */
export function grantObjects(
  bucket: s3.IBucket,
  grantee: iam.IGrantable,
  prefix: string,
  actions: readonly ObjectAction[],
): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [bucket.arnForObjects(`${prefix}*`)],
  });
}

/** ListBucket, only for listings under the given prefixes. */
export function grantList(bucket: s3.IBucket, grantee: iam.IGrantable, prefixes: readonly string[]): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:ListBucket'],
    resourceArns: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
  });
}

/**
 * cdk-nag's IAM5 flags every '*' in a policy, one finding per action or resource. After the
 * grants above, the only wildcards left are resources: object ARNs under a key prefix
 * (bucket/registry/*), the log streams of a function's own log group, a function's versions
 * (fn:*), and X-Ray / log-delivery actions that take no resource but '*'. This acknowledges
 * exactly those resource findings of the policies under `scope`, with the reason; an action
 * wildcard is never acknowledged. It must see the policy as cdk-nag does, with cross-stack
 * references already turned into imports, so it runs as a construct validation: after every
 * grant is added and references are resolved, before the policy-validation plugins.
 */
export function acknowledgeResourceWildcards(scope: IConstruct, what: string): void {
  const reason = `${what}: every action is named (no wildcard action, checked by test/infra/security.test.ts); resource wildcards are object ARNs under a key prefix, the function's own log streams or versions, and X-Ray / log-delivery actions that accept only '*'`;
  scope.node.addValidation({
    validate() {
      for (const node of scope.node.findAll()) {
        if (!(node instanceof iam.CfnPolicy)) continue;
        const document = Stack.of(node).resolve(node.policyDocument) as {
          Statement?: { Effect?: string; Resource?: unknown }[];
        };
        for (const statement of document.Statement ?? []) {
          if (statement.Effect !== 'Allow') continue;
          for (const resource of [statement.Resource].flat()) {
            const flat = flattenCfnReference(resource);
            if (flat.includes('*'))
              Validations.of(node).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
          }
        }
      }
      return [];
    },
  });
}

/** Lambda functions invoked only synchronously have no asynchronous failure to send to a DLQ. */
export function acknowledgeSynchronousOnly(fn: IConstruct, caller: string): void {
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason: `invoked synchronously only (${caller}); a Lambda DLQ applies to asynchronous invocations, and failures already return to the caller`,
  });
}
