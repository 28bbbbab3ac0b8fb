/**
 * npm run test:integration [-- <jest options>]: runs test/deployed/platform.integration.ts against a
 * running platform, or says in one line why it cannot and runs nothing.
 *
 * Environment (read here only; the suite gets the resolved endpoints):
 *   INTEGRATION_TARGET     localstack (default) | local | aws
 *   INTEGRATION_ENDPOINTS  "local": same as INTEGRATION_TARGET=local (the platform `npm start` runs)
 *   AWS_ENDPOINT_URL       localstack: the emulator's gateway (default http://localhost:4566)
 *   CDK_OUTPUTS_FILE       localstack, aws: the `--outputs-file` of the deploy (default cdk-outputs.json)
 *   LOCAL_DATA_DIR         local: the data folder holding endpoints.json (default .local)
 *   INTEGRATION_API_URL    the inference API's base URL, overriding the one found above
 *   AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 *                          localstack: default us-east-1 and test/test; aws: the SDK's default chain
 *   INTEGRATION_REQUIRED   "1": a target that is not there fails (exit 1) instead of skipping (exit 0)
 * Exit status: jest's when the suite ran; 0 when skipped (nothing configured, started, deployed or
 * reachable); 1 when skipped but INTEGRATION_REQUIRED=1; 2 when the configuration is contradictory
 * or a file it names is malformed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describeTarget, resolveTarget, targetEnv } from './targets';

const ROOT = join(__dirname, '..', '..');

function runJest(env: NodeJS.ProcessEnv, args: readonly string[]): Promise<number> {
  const jest = require.resolve('jest/bin/jest');
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [jest, '--config', join(ROOT, 'jest.integration.config.js'), '--runInBand', ...args],
      { cwd: ROOT, env, stdio: 'inherit' },
    );
    child.on('error', (error) => {
      console.error(`integration: could not start jest: ${error.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const env = process.env;
  const resolution = await resolveTarget(env);
  if (resolution.status === 'invalid') {
    console.error(`integration: cannot run - ${resolution.reason}`);
    return 2;
  }
  if (resolution.status === 'skip') {
    if (env.INTEGRATION_REQUIRED === '1') {
      console.error(`integration: failed - ${resolution.reason} (INTEGRATION_REQUIRED=1)`);
      return 1;
    }
    console.log(`integration: skipped - ${resolution.reason}`);
    return 0;
  }
  console.log(`integration: running against ${describeTarget(resolution.target)}`);
  return runJest({ ...env, ...targetEnv(resolution.target) }, process.argv.slice(2));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`integration: error - ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
