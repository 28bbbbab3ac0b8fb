import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A dead-letter queue as every construct here makes one: SQS-managed encryption, TLS only, 14 days
 * (SQS's longest) for someone to look. cdk-nag's "this queue has no DLQ" rules are acknowledged:
 * a DLQ of a DLQ would only move the messages again. `holds` says what lands in it.
 */
export function deadLetterQueue(scope: Construct, id: string, holds: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  for (const ruleId of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
    Validations.of(queue).acknowledge({
      id: ruleId,
      reason: `this queue is itself the dead-letter queue (${holds}); a DLQ of a DLQ would only move them again`,
    });
  }
  return queue;
}
