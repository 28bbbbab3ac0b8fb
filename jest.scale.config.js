/**
 * `npm run test:scale`: training and the retraining pipeline at sizes `npm test` cannot afford
 * (1,000,000 and 3,000,000 generated rows through `npm run train`; a pipeline run over 50 processed
 * files of 10,000 rows). Minutes, not seconds; CI runs it (.ci/run). In band: each part uses a
 * core and gigabytes of memory.
 */
const base = require('./jest.common');

module.exports = {
  ...base,
  testMatch: ['**/test/scale/**/*.scale.ts'],
  testTimeout: 1_200_000,
  maxWorkers: 1,
};
