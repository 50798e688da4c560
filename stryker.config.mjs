// StrykerJS for `npm run mutants` (scripts/mutants.mjs): the module to mutate and its tests are given
// per run; this is what every run shares. Not part of CI: see docs/mutation-testing.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutants.config.ts', related: false },
  coverageAnalysis: 'perTest',
  // Two cores shared with the rest of the team: one test process at a time.
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: [
    '.stryker-tmp*',
    'bench',
    'notes',
    'coverage',
    'reports',
    'examples',
    'templates',
    'test/.swap-fixtures',
    'test/.catalog-cache',
    'test/.management-scratch',
  ],
  thresholds: { high: 90, low: 75, break: null },
};
