/**
 * `npm test`: five projects run together; one alone with `npm test -- --selectProjects <name>`.
 *   unit         pure: no network, no native binary (test/unit)
 *   parity       trainer vs scikit-learn / numpy fixtures, trainer vs onnxruntime (test/parity)
 *   integration  real S3 server, real onnxruntime, real handlers (test/integration)
 *   e2e          the local platform, the synthesised state machines, the CLIs (test/e2e)
 *   infra        CDK assertions and cdk-nag on the synthesised stacks (test/infra)
 * Browser, reliability and scale suites have their own configurations (jest.*.config.js).
 */
const common = require('./jest.common');

const project = (name) => ({ ...common, displayName: name, testMatch: [`<rootDir>/test/${name}/**/*.test.ts`] });

module.exports = {
  projects: ['unit', 'parity', 'integration', 'e2e', 'infra'].map(project),
  testTimeout: 60000,
};
