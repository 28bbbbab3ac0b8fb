/** What every jest configuration shares: TypeScript through swc (transpile only; `npm run typecheck` type-checks) and the typed-array-sharing environment. */
module.exports = {
  rootDir: __dirname,
  testEnvironment: '<rootDir>/test/environment.js',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
};
