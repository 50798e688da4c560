/**
 * The lazy code check's budget of resolutions (`MAX_RESOLUTIONS`): an import past it is left to the
 * boot, and the default-export reader follows only the graph's own guarded resolutions. A red-team
 * pass found it resolved again, unguarded: a package.json linked to /dev/zero past the 512th import
 * aborted the host at load().
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkSource } from '../../src/loader/code-check/source-check.js';
import { MAX_RESOLUTIONS } from '../../src/loader/code-check/module-graph.js';

const dir = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-past-budget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('an import past MAX_RESOLUTIONS is not resolved unguarded by the default-export reader', () => {
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(path.join(dir, 'a.js'), 'export const a = 1;\n');
  const filler = Array.from({ length: MAX_RESOLUTIONS }, (_, i) => `import './a.js?${i}';`).join(
    '\n',
  );
  writeFileSync(path.join(dir, 'index.js'), `${filler}\nexport { default } from 'evil';\n`);
  mkdirSync(path.join(dir, 'node_modules', 'evil'), { recursive: true });
  const pj = path.join(dir, 'node_modules', 'evil', 'package.json');
  closeSync(openSync(pj, 'w'));
  truncateSync(pj, 64 * 1024 * 1024);
  const before = process.memoryUsage().rss;
  const started = performance.now();
  let outcome: unknown;
  try {
    outcome = checkSource({ plugin: 'p', dir, mainPath: path.join(dir, 'index.js') });
  } catch (error) {
    outcome = error;
  }
  const took = (performance.now() - started).toFixed(0);
  const grew = ((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0);
  // Past the budget the import is left to the boot: its package.json is never read here.
  const message = outcome instanceof Error ? outcome.message : '';
  if (message !== '') expect(message).toMatch(/not a regular file of at most/);
  expect(Number(grew), `took ${took} ms, rss +${grew} MiB`).toBeLessThan(48);
}, 60_000);

/**
 * The same with a link to /dev/zero, end to end: a lazy `process` plugin loaded through the build. Run
 * in a child under `ulimit -v` so that a regression aborts the child, not the machine.
 */

it('a lazy process plugin with node_modules/evil/package.json -> /dev/zero does not abort the host', () => {
  // Outside the repository: vitest itself would read the link while mapping stack traces.
  const outside = mkdtempSync(path.join(os.tmpdir(), 'rt2-devzero-'));
  const plug = path.join(outside, 'proc');
  mkdirSync(path.join(plug, 'node_modules', 'evil'), { recursive: true });
  writeFileSync(
    path.join(plug, 'plugin.yaml'),
    'name: evilproc\nversion: 1.0.0\nruntime:\n  type: process\nendpoints:\n  - path: /x\n    method: GET\n',
  );
  writeFileSync(path.join(plug, 'package.json'), '{"type":"module"}');
  writeFileSync(path.join(plug, 'a.js'), 'export const a = 1;\n');
  const filler = Array.from({ length: MAX_RESOLUTIONS }, (_, i) => `import './a.js?${i}';`).join(
    '\n',
  );
  writeFileSync(path.join(plug, 'index.js'), `${filler}\nexport { default } from 'evil';\n`);
  symlinkSync('/dev/zero', path.join(plug, 'node_modules', 'evil', 'package.json'));
  const script = path.join(outside, 'host.mjs');
  // The build: tsx's esbuild does not start under ulimit -v.
  const src = path.resolve(import.meta.dirname, '../../dist/index.js');
  writeFileSync(
    script,
    `import { PluginGateway } from ${JSON.stringify(src)};
const g = new PluginGateway({ logger: false });
await g.start();
await g.load(${JSON.stringify(plug)}).then(() => console.log('loaded'), (e) => console.log('refused', e.code));
await g.stop();
`,
  );
  let run;
  try {
    run = spawnSync('bash', ['-c', `ulimit -v 6000000; exec "${process.execPath}" "${script}"`], {
      encoding: 'utf8',
      timeout: 90_000,
    });
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
  expect(run.status, `${run.stdout}\n${run.stderr.slice(-600)}`).toBe(0);
  expect(run.stdout).toMatch(/refused|loaded/);
}, 120_000);
