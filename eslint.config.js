// typescript-eslint's strict, type-checked rules over every TypeScript file (npm run lint, which
// npm test runs). The JavaScript files are build glue (scripts/build.mjs, the stubs, cold-marks.cjs).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'bench/results/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers in template literals are how messages and paths are written here.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // A leading underscore marks what is named only to be left out (`{ dropped: _, ...kept }`, an unused parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A `let` assigned once, after a closure that reads it was made (a late-bound callback).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest types its asymmetric matchers (expect.any, expect.stringContaining, ...) as any.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
