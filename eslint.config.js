import tseslint from 'typescript-eslint';
import n from 'eslint-plugin-n';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test/.catalog-cache/**',
      '**/assembly/**',
      // Fixtures with a syntax error on purpose
      'test/fixtures/*-syntax/**',
    ],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  ...tseslint.configs.recommended,
  {
    plugins: { n },
    rules: {
      'n/prefer-node-protocol': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Loaded at the first use, not with the package (docs/decisions/0141-main-entry-loads-at-first-use.md).
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/shared/zod.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'zod',
              message: 'take z from src/shared/zod.ts: it loads zod at the first schema built',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
