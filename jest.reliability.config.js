/**
 * `npm run test:reliability`: load, bad input, bad uploads and injected faults against the local
 * platform (test/reliability/*.reliability.ts). Run in band: the parts measure the machine, and a
 * load run beside another part would measure both. The last step writes docs/reliability.md.
 */
const base = require('./jest.common');

module.exports = {
  ...base,
  testMatch: ['**/test/reliability/**/*.reliability.ts'],
  testTimeout: 180000,
  maxWorkers: 1,
  globalSetup: '<rootDir>/test/reliability/global-setup.ts',
  globalTeardown: '<rootDir>/test/reliability/global-teardown.ts',
};
