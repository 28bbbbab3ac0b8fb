/**
 * The deployed-platform suite: test/deployed/*.integration.ts against LocalStack, AWS or `npm start`.
 * Started by `npm run test:integration` (test/deployed/run.ts), which resolves the target and passes
 * it in INTEGRATION_ENDPOINTS_JSON; run directly, the suite fails at once saying so. The plain
 * `jest` run never sees these files: its testMatch is *.test.ts.
 */
const base = require('./jest.common');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/deployed'],
  testMatch: ['**/*.integration.ts'],
  // A retraining run (five algorithms, Lambda cold starts in an emulator) takes minutes.
  testTimeout: 15 * 60 * 1000,
};
