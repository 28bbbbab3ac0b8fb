import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { platformConfig } from '../../lib/config';
import { createPlatform } from '../../lib/platform';
import { testApp } from '../helpers/cdk-app';

/**
 * cdk-nag's AwsSolutions and Serverless packs (CDK policy-validation plugins) over the whole
 * platform as bin/app.ts builds it, with the optional JWT authorizer on so its routes are checked
 * too: synthesis must report no violation. Acknowledged rules (Validations.of(x).acknowledge, in
 * lib/) carry a written reason; cdk-nag refuses one without.
 */

interface Report {
  readonly pluginReports?: {
    readonly summary?: { readonly pluginName?: string };
    readonly violations?: {
      readonly ruleName: string;
      readonly description?: string;
      readonly violatingResources?: { readonly resourceLogicalId?: string; readonly templatePath?: string }[];
    }[];
  }[];
}

describe('cdk-nag: AwsSolutions and Serverless packs', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nag-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('the synthesised platform has no unacknowledged finding', () => {
    const app = testApp({ outdir });
    const config = platformConfig(
      { auth: { issuer: 'https://issuer.example.com', audience: ['client'] } },
      loadModelSpecs(join(__dirname, '../../config/models')),
    );
    createPlatform(app, config);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    let failure: unknown;
    try {
      app.synth();
    } catch (error) {
      failure = error;
    }
    const reportFile = join(outdir, 'policy-validation-report.json');
    const report: Report = existsSync(reportFile) ? (JSON.parse(readFileSync(reportFile, 'utf8')) as Report) : {};
    const violations = (report.pluginReports ?? []).flatMap((p) =>
      (p.violations ?? []).flatMap((v) =>
        (v.violatingResources ?? []).map(
          (r) => `${v.ruleName} ${r.templatePath?.split('/').pop() ?? ''} ${r.resourceLogicalId ?? ''}`,
        ),
      ),
    );
    expect(violations).toEqual([]);
    expect(failure).toBeUndefined();
  });
});
