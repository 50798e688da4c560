// `veza plugin create hello && cd hello && veza plugin test`, timed as a new user runs it: a fresh project
// folder with the package installed (a link to this checkout, as `npm i` leaves it), a cold `.veza/`.
// Baseline in the same run: `node --test` of an empty test file (the floor of any test run on this Node).
// Usage: node scripts/ensure-dist.mjs && node bench/cli-create-test.mjs [rounds]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'dist/cli.js');
const rounds = Number(process.argv[2] ?? 3);
const env = { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' };
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = { baseline: [], create: [], test: [], total: [] };
for (let i = 0; i < rounds; i++) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'veza-bench-'));
  try {
    mkdirSync(path.join(dir, 'node_modules/@veza'), { recursive: true });
    symlinkSync(root, path.join(dir, 'node_modules/@veza/plugin-gateway'));
    writeFileSync(
      path.join(dir, 'empty.test.mjs'),
      "import { test } from 'node:test';\ntest('x', () => {});\n",
    );
    rows.baseline.push(
      time(() =>
        execFileSync(process.execPath, ['--test', 'empty.test.mjs'], {
          cwd: dir,
          env,
          stdio: 'ignore',
        }),
      ),
    );
    const create = time(() =>
      execFileSync(process.execPath, [cli, 'plugin', 'create', 'hello'], {
        cwd: dir,
        env,
        stdio: 'ignore',
      }),
    );
    const test = time(() =>
      execFileSync(process.execPath, [cli, 'plugin', 'test'], {
        cwd: path.join(dir, 'hello'),
        env,
        stdio: 'ignore',
      }),
    );
    rows.create.push(create);
    rows.test.push(test);
    rows.total.push(create + test);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`Node ${process.version}, ${rounds} rounds, medians (ms):`);
for (const [name, xs] of Object.entries(rows))
  console.log(`  ${name.padEnd(9)} ${median(xs).toFixed(0)}`);
