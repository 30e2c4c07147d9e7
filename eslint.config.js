// ESLint for every TypeScript and JavaScript file in the repository. A small rule set that
// finds what Prettier and tsc do not: promises nobody awaits or handles, promises passed where
// a plain callback is expected, and accidental `any`. Layout is Prettier's job (`npm run lint`
// runs both), so no stylistic rule is on. Unused code in .ts files is tsc's job
// (noUnusedLocals, noUnusedParameters); ESLint reports it in .mjs files, which tsc does not read.

import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-check/**',
      'node_modules/**',
      'data/**',
      'scratch/**',
      'test-artifacts/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // An `any` that arrives from JSON.parse, a catch or an untyped library spreads silently;
      // these make each use say what it expects.
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      // tsc reports unused locals and parameters (tsconfig.json); one report is enough.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    // vitest types its asymmetric matchers (expect.any, expect.stringMatching, ...) as any, so
    // every object pattern that uses one would be reported; member access stays checked.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The management UI runs in the browser.
    files: ['src/mgmt/ui/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
