import { join } from 'node:path';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { ModelSpec } from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { platformConfig } from '../../lib/config';
import { createPlatform } from '../../lib/platform';
import { testApp } from '../helpers/cdk-app';

/**
 * The platform as bin/app.ts builds it (bundling skipped), from the repository's specs with the
 * data loop's settings varied so that a wrong source would show: iris captures half its requests,
 * keeps them 7 days, is monitored every 2 hours with its own drift threshold and a live-accuracy
 * floor; sentiment has capture off (kept 14 days); the others take DEFAULT_MONITORING.
 */
export const SPECS: readonly ModelSpec[] = loadModelSpecs(join(__dirname, '../../config/models')).map((spec) => {
  if (spec.name === 'iris')
    return {
      ...spec,
      monitoring: {
        capture: { sampleRate: 0.5, retentionDays: 7 },
        schedule: 'rate(2 hours)',
        driftThreshold: 0.3,
        liveAccuracyFloor: 0.85,
      },
    };
  if (spec.name === 'sentiment') return { ...spec, monitoring: { capture: { enabled: false, retentionDays: 14 } } };
  return spec;
});

export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

export const actionsOf = (s: Statement): string[] => [s.Action].flat();

/** `context`: the cdk.json `platform` object. */
export function dataLoopPlatform(specs: readonly ModelSpec[] = SPECS, context: unknown = {}) {
  const stacks = createPlatform(testApp(), platformConfig(context, specs));
  const template = (stack: Stack) => Template.fromStack(stack);
  return {
    stacks,
    storage: template(stacks.storage),
    pipeline: template(stacks.pipeline),
    inference: template(stacks.inference),
    monitoring: template(stacks.monitoring),
  };
}

/** The logical id of a construct's CloudFormation resource in its stack. */
export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Every statement of the IAM policies attached to the role whose logical id matches `role`. */
export function roleStatements(template: Template, role: RegExp): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => role.test(r.Ref)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The key pattern an object statement's resource ends with (`/capture/*`), or the whole resource as JSON. */
export function keyPattern(resource: unknown): string {
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  const last = join?.[1][join[1].length - 1];
  return typeof last === 'string' ? last : JSON.stringify(resource);
}
