// Builds dist/ when it is missing or older than the sources. Plugins import
// `@veza/plugin-gateway/sdk` as published, which resolves to dist/ through the package's own exports;
// the demos, benchmarks and tests call this first so a plugin never runs against a stale SDK.
// (No `prepare` script: installing the package must run nothing.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestUnder(file) : statSync(file).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

export function ensureDist() {
  const newest = newestUnder(path.join(root, 'src'));
  const fresh = [
    'worker-entry.js',
    'process-entry.js',
    'code-check-entry.js',
    'testing.js',
    'cli.js',
  ].every((file) => {
    const built = path.join(root, 'dist', file);
    return existsSync(built) && statSync(built).mtimeMs >= newest;
  });
  if (fresh) return;
  // The first build of a fresh clone takes a while on a small machine: say so rather than print nothing.
  process.stderr.write(
    'building dist/ (the first run after a clone or an edit of src/; up to a few minutes)…\n',
  );
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/tsup/dist/cli-default.js'), '--silent'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureDist();
