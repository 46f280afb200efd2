import js from '@eslint/js';
import jupyterPlugin from '@jupyter/eslint-plugin';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  {
    ignores: [
      'node_modules',
      '**/node_modules',
      'lib',
      'coverage',
      'artifacts',
      'ui-tests/test-results',
      'ui-tests/playwright-report',
      '.venv*',
      'carto_credentials',
      '**/*.d.ts',
      'babel.config.js',
      'jest.config.js'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { plugins: { jupyter: jupyterPlugin } },
  ...jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: { ...globals.browser, ...globals.node },
      parserOptions: {
        project: [
          'tsconfig.test.json',
          'bench/tsconfig.json',
          'ui-tests/tsconfig.json'
        ]
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': [
        'warn',
        { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' }
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    files: ['test/**/*.ts', 'ui-tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'jupyter/no-untranslated-string': 'off',
      'jupyter/require-disposable-ownership': 'off'
    }
  },
  {
    // The bench disposes its managers in a finally block the rule does not follow.
    files: ['bench/**/*.ts'],
    rules: { 'jupyter/require-disposable-ownership': 'off' }
  },
  {
    // CommonJS, as in the JupyterLab extension template (galata's base config is CommonJS).
    files: ['ui-tests/playwright.config.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } }
  },
  prettierRecommended
]);
