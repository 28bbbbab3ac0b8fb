import { Duration } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { CAPTURE_ERRORS_PREFIX, CAPTURE_PREFIX, FEEDBACK_PREFIX } from '../../core/contracts/buckets';
import { nameProblem } from '../../core/registry/keys';

/** S3 accepts at most 1000 lifecycle rules per bucket; SecureBucket uses two. */
const MAX_RETENTION_RULES = 998;

/**
 * The lifecycle rules that keep each model's captured requests (capture/<model>/) and feedback
 * labels (feedback/<model>/) only as long as its spec says (monitoring.capture.retentionDays;
 * the feedback endpoint refuses labels for older ids, so the two expire together). Every model
 * with a spec gets them, capture on or off: records from before capture was turned off expire too.
 *
 * The data bucket is versioned, so an expired object first becomes a noncurrent version, which
 * the bucket-wide rule would keep for another 90 days: personal data past its retention. These
 * rules therefore delete noncurrent versions after 1 day, so nothing outlives retentionDays + ~1
 * day (S3 runs lifecycle actions asynchronously, usually within a day of becoming due).
 *
 * capture-errors/ (records Firehose could not partition or deliver) carries no model in its keys,
 * so it expires after the shortest retention of all models: every model's promise holds.
 */
export function captureRetentionRules(retentionDays: Readonly<Record<string, number>>): s3.LifecycleRule[] {
  const models = Object.keys(retentionDays).sort();
  const problems: string[] = [];
  for (const model of models) {
    const problem = nameProblem('model', model);
    if (problem) problems.push(problem);
    const days = retentionDays[model];
    if (!Number.isInteger(days) || days < 1)
      problems.push(
        `the retention of "${model}" must be a whole number of days >= 1 (its spec's monitoring.capture.retentionDays), got ${days}`,
      );
  }
  if (2 * models.length + 1 > MAX_RETENTION_RULES)
    problems.push(
      `${models.length} models need ${2 * models.length + 1} lifecycle rules; S3 allows ${MAX_RETENTION_RULES} besides the bucket's own`,
    );
  if (problems.length > 0) throw new Error(`capture retention cannot be built:\n- ${problems.join('\n- ')}`);
  if (models.length === 0) return [];

  const rule = (id: string, prefix: string, days: number): s3.LifecycleRule => ({
    id,
    prefix,
    expiration: Duration.days(days),
    noncurrentVersionExpiration: Duration.days(1),
  });
  return [
    ...models.flatMap((model) => [
      rule(`retention-capture-${model}`, `${CAPTURE_PREFIX}${model}/`, retentionDays[model]),
      rule(`retention-feedback-${model}`, `${FEEDBACK_PREFIX}${model}/`, retentionDays[model]),
    ]),
    rule('retention-capture-errors', CAPTURE_ERRORS_PREFIX, Math.min(...models.map((m) => retentionDays[m]))),
  ];
}
