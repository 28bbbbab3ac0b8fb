/** `npm run test:browser`: the pages in headless Chromium (needs Debian's chromium; .ci/run installs it). */
const base = require('./jest.common');

module.exports = { ...base, testMatch: ['**/test/browser/**/*.browser.ts'], testTimeout: 120000 };
