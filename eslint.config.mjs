import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import jestPlugin from 'eslint-plugin-jest';

/**
 * The direction imports may run (docs/architecture.md draws it): bin -> lib; lib -> lambdas, core
 * (constructs bundle the handlers and read their contracts); local -> lib, lambdas, training, core
 * (the local platform runs the synthesised definitions and the real handlers); lambdas -> training,
 * core (the pipeline function hosts the trainer); training -> core; core -> nothing of ours.
 */
const layer = (folder, forbidden) => ({
  files: [`${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
            message: `${folder}/ may not import from ${forbidden.join(', ')}/: see the layering in eslint.config.mjs and docs/architecture.md`,
          },
        ],
      },
    ],
  },
});

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
        {
          selector: 'CallExpression > SpreadElement',
          message:
            'Do not spread an array into a call (RangeError past ~100k elements): use a loop, or core/arrays.ts (pushAll, maxOf, minOf).',
        },
        {
          selector: 'NewExpression > SpreadElement',
          message: 'Do not spread an array into a constructor call (RangeError past ~100k elements): use a loop.',
        },
      ],
    },
  },
  layer('core', ['training', 'lambdas', 'local', 'lib', 'bin']),
  layer('training', ['lambdas', 'local', 'lib', 'bin']),
  layer('lambdas', ['local', 'lib', 'bin']),
  // lib/ reads shared names from core/ (core/contracts/); importing a handler module would load its
  // runtime libraries (Powertools, the SDK) at synth. Handlers are referenced by file path only.
  layer('lib', ['lambdas', 'local', 'bin']),
  layer('local', ['bin']),
  {
    files: ['test/**/*.ts'],
    ...jestPlugin.configs['flat/recommended'],
    rules: {
      ...jestPlugin.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      // CDK's Template assertions throw on failure, like expect.
      'jest/expect-expect': [
        'error',
        {
          assertFunctionNames: [
            'expect',
            'expect*',
            '*.hasResourceProperties',
            '*.allResourcesProperties',
            '*.hasResource',
            '*.hasOutput',
          ],
        },
      ],
    },
  },
);
