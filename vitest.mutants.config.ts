import { defineConfig } from 'vitest/config';

// The test files StrykerJS runs for one module (`npm run mutants`): only those, one file at a time.
// No global setup: scripts/mutants.mjs builds dist/ once before Stryker copies the project.
const files = (process.env.MUTANTS_TESTS ?? '').split(',').filter(Boolean);
if (files.length === 0) throw new Error('MUTANTS_TESTS names no test file (run `npm run mutants`)');

export default defineConfig({
  test: {
    include: files,
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
