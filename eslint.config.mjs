import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import jestPlugin from 'eslint-plugin-jest';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', 'coverage/', 'bench/.venv/', '.local/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // f(...xs) passes every element as an argument: past ~100k elements it throws RangeError
    // (Maximum call stack size exceeded), so data-sized arrays must never be spread into a call.
    files: ['training/**/*.ts', 'core/**/*.ts', 'lambdas/**/*.ts', 'local/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'CallExpression > SpreadElement', message: 'Do not spread an array into a call (RangeError past ~100k elements): use a loop, or core/arrays.ts (pushAll, maxOf, minOf).' },
        { selector: 'NewExpression > SpreadElement', message: 'Do not spread an array into a constructor call (RangeError past ~100k elements): use a loop.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    ...jestPlugin.configs['flat/recommended'],
    rules: {
      ...jestPlugin.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      // CDK's Template assertions throw on failure, like expect.
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', '*.hasResourceProperties', '*.allResourcesProperties', '*.hasResource', '*.hasOutput'] }],
    },
  },
);
