// `npm run mutants [-- module ...]`: StrykerJS over the modules where a silent break is a security or
// data-loss bug, one module at a time, each against only its related test files (the machine is small
// and shared). Not in CI's time budget. Scores and survivors go to reports/mutation/ (not committed);
// the recorded scores and the reasoning about survivors live in docs/mutation-testing.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stryker } from '@stryker-mutator/core';
import { ensureDist } from './ensure-dist.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Smallest first. `tests`: the files that exercise the module (its own unit tests and its promises). */
export const MODULES = [
  {
    name: 'replay-guard',
    mutate: ['src/fleet/replay-guard.ts'],
    tests: ['src/fleet/replay-guard.test.ts', 'test/security/peer-route.test.ts'],
  },
  {
    name: 'own-bytes',
    mutate: ['src/shared/own-bytes.ts'],
    tests: ['src/shared/own-bytes.test.ts', 'test/security/request-bodies.test.ts'],
  },
  {
    name: 'process-notes',
    mutate: ['src/loader/process/process-notes.ts'],
    // The process sandbox suites (bwrap) cover only the notes a well-behaved harness sends, in 15 min.
    tests: ['src/loader/process/process-notes.test.ts'],
  },
  {
    name: 'artifact-signature',
    mutate: ['src/fleet/artifact-signature.ts'],
    tests: ['src/fleet/artifact-signature.test.ts', 'test/security/catalog-artifacts.test.ts'],
  },
  {
    name: 'note-check',
    mutate: ['src/loader/worker/note-check.ts'],
    tests: ['src/loader/worker/note-check.test.ts', 'src/loader/worker/note-check-reasons.test.ts'],
  },
  {
    name: 'peer-protocol',
    mutate: ['src/fleet/peer-protocol.ts'],
    tests: [
      'src/fleet/peer-protocol.test.ts',
      'test/security/peer-headers.test.ts',
      'test/fuzz/peer-protocol.fuzz.test.ts',
      'test/security/peer-route.test.ts',
      'test/security/remote-answers.test.ts',
    ],
  },
  {
    name: 'manifest-schema',
    timeoutMS: 5000,
    mutate: ['src/manifest/schema.ts'],
    tests: [
      'src/manifest/manifest.test.ts',
      'src/manifest/schema-strict.test.ts',
      'src/manifest/schema-bounds.test.ts',
      'test/security/manifest-bounds.test.ts',
    ],
  },
  {
    // The resilience policies: breaker, rate limiter, bulkhead (the pipeline and instance pool around
    // them are wiring, exercised through the gateway's own tests).
    name: 'mesh',
    // Unit tests of ~1 ms each: a mutant that loops for ever is cut after 5 s, not 20.
    timeoutMS: 5000,
    mutate: [
      'src/mesh/circuit-breaker.ts',
      'src/mesh/breaker-strategies.ts',
      'src/mesh/failure-window.ts',
      'src/mesh/rate-limiter.ts',
      'src/mesh/rate-limit-store.ts',
      'src/mesh/gcra.ts',
      'src/mesh/bulkhead.ts',
    ],
    tests: [
      'src/mesh/breaker-strategies.test.ts',
      'src/mesh/bulkhead.test.ts',
      'src/mesh/circuit-breaker.test.ts',
      'src/mesh/rate-limiter.test.ts',
      'src/mesh/pipeline.test.ts',
      'src/mesh/breaker-edges.test.ts',
      'src/mesh/bulkhead-edges.test.ts',
      'src/mesh/rate-limit-edges.test.ts',
    ],
  },
  {
    name: 'admission',
    mutate: ['src/core/admission.ts'],
    tests: [
      'src/core/request-path.test.ts',
      'test/security/call-identity.test.ts',
      'test/integration/gateway.test.ts',
    ],
  },
  {
    name: 'hot-swap',
    mutate: ['src/core/hot-swap.ts'],
    // ~1 h at concurrency 1 (28 s a pass): run in slices, each with its own incremental file, so an
    // interrupted run resumes at the slice it was in. Boundaries fall between methods: a mutant is
    // made only if it lies wholly inside a range.
    slices: [
      'src/core/hot-swap.ts:1-148',
      'src/core/hot-swap.ts:149-264',
      'src/core/hot-swap.ts:265-392',
    ],
    tests: [
      'test/integration/swap.test.ts',
      'test/integration/swap-in-flight.test.ts',
      'test/integration/swap-edges.test.ts',
      'test/integration/swap-order.test.ts',
      'test/integration/swap-failed.test.ts',
      'test/integration/swap-catalog.test.ts',
      'test/integration/live-swap.test.ts',
      'test/security/swap-trust.test.ts',
      'test/security/tampered-folder.test.ts',
    ],
  },
];

/** Stryker's score: detected (killed or timed out) over valid mutants (those that compiled and ran). */
function scoreOf(results) {
  const count = (...statuses) => results.filter((r) => statuses.includes(r.status)).length;
  const detected = count('Killed', 'Timeout');
  const undetected = count('Survived', 'NoCoverage');
  const valid = detected + undetected;
  const loadFailures = results.filter(failedToLoad);
  return {
    mutants: results.length,
    killed: count('Killed'),
    timeout: count('Timeout'),
    survived: count('Survived'),
    noCoverage: count('NoCoverage'),
    invalid: results.length - valid,
    score: valid === 0 ? null : Math.round((1000 * detected) / valid) / 10,
    // A mutant that makes the module throw as it is imported (`addSubnet('', …)`) fails every test
    // file before any test is collected; Stryker reports that run, with no test completed, as
    // "Survived". Counted apart, and as detected in the second score.
    failedToLoad: loadFailures.length,
    scoreCountingLoadFailures:
      valid === 0 ? null : Math.round((1000 * (detected + loadFailures.length)) / valid) / 10,
  };
}

/** Survivors for which Stryker completed no test at all: their module could not even be loaded. */
function failedToLoad(result) {
  return result.status === 'Survived' && result.testsCompleted === 0;
}

/**
 * The score each test file is worth: the score the module would have without it, from the mutants that
 * only that file's tests kill (every killer is known only with `--every-killer`, which runs all the
 * tests covering a mutant instead of stopping at the first failure).
 */
function scoreWithout(results, tests) {
  const fileOf = (testId) => tests.find((t) => testId.split('#')[0].endsWith(t));
  const valid = results.filter((r) =>
    ['Killed', 'Timeout', 'Survived', 'NoCoverage'].includes(r.status),
  );
  const detected = valid.filter((r) => r.status === 'Killed' || r.status === 'Timeout').length;
  return Object.fromEntries(
    tests.map((file) => {
      const only = valid.filter(
        (r) => r.status === 'Killed' && (r.killedBy ?? []).every((id) => fileOf(id) === file),
      ).length;
      return [file, Math.round((1000 * (detected - only)) / valid.length) / 10];
    }),
  );
}

const args = process.argv.slice(2);
const everyKiller = args.includes('--every-killer');
const wanted = args.filter((a) => a !== '--every-killer');
const unknown = wanted.filter((w) => !MODULES.some((m) => m.name === w));
if (unknown.length > 0) {
  console.error(
    `unknown module(s): ${unknown.join(', ')}; known: ${MODULES.map((m) => m.name).join(', ')}`,
  );
  process.exit(2);
}
const modules = wanted.length === 0 ? MODULES : MODULES.filter((m) => wanted.includes(m.name));
const out = path.join(root, 'reports', 'mutation');
mkdirSync(out, { recursive: true });
// Plugins import the SDK from dist/: built once here, copied into Stryker's sandbox with the rest.
ensureDist();
for (const module of modules) {
  process.env.MUTANTS_TESTS = module.tests.join(',');
  const began = Date.now();
  const slices = module.slices ?? [module.mutate];
  const results = [];
  for (const [i, mutate] of slices.entries()) {
    const part = module.slices ? `${module.name}.${i + 1}-of-${slices.length}` : module.name;
    results.push(
      ...(await new Stryker({
        mutate: [mutate].flat(),
        // A sandbox per module, so that two modules can run side by side (`npm run mutants -- a` twice).
        tempDirName: `.stryker-tmp-${module.name}`,
        // A second run reuses every result whose code and tests did not change (and a killed run
        // resumes at its slice): delete reports/mutation/*.incremental.json to start afresh.
        incremental: true,
        incrementalFile: path.join('reports', 'mutation', `${part}.incremental.json`),
        ...(everyKiller ? { disableBail: true } : {}),
        ...(module.timeoutMS ? { timeoutMS: module.timeoutMS } : {}),
        jsonReporter: { fileName: path.join('reports', 'mutation', `${part}.json`) },
      }).runMutationTest()),
    );
  }
  const summary = {
    module: module.name,
    date: new Date().toISOString(),
    minutes: Math.round((Date.now() - began) / 6000) / 10,
    tests: module.tests,
    ...scoreOf(results),
    ...(everyKiller ? { scoreWithout: scoreWithout(results, module.tests) } : {}),
    survivors: results
      .filter((r) => (r.status === 'Survived' && !failedToLoad(r)) || r.status === 'NoCoverage')
      .map(
        (r) =>
          `${r.status} ${path.relative(root, r.fileName)}:${r.location.start.line}:${r.location.start.column + 1} ${r.mutatorName}: ${JSON.stringify(r.replacement)}`,
      ),
  };
  writeFileSync(
    path.join(out, `${module.name}.summary.json`),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  console.log(
    `mutants ${module.name}: score ${summary.score}% (${summary.killed} killed, ${summary.timeout} timeout, ${summary.survived} survived, ${summary.noCoverage} no coverage) in ${summary.minutes} min`,
  );
}
