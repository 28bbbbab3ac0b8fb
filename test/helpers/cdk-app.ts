import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';

/** cdk.json's context (feature flags, platform settings), as the CDK CLI gives it to bin/app.ts. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(__dirname, '../../cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/** An App as `cdk synth` builds it (cdk.json context), with asset bundling skipped (`npm run synth` bundles for real). */
export function testApp(props: AppProps = {}): App {
  return new App({ ...props, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...props.context } });
}
