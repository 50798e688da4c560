import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Plugins import `@veza/plugin-gateway/sdk` as published, which resolves to `dist/` through the
 * package's own exports, and worker threads run the built harness (`dist/worker-entry.js`, locked
 * down like the published library's). `npm ci` builds them (the `prepare` script); rebuild here when
 * their sources are newer, so a test never runs a plugin against a stale SDK or harness. The gateway
 * itself runs from `src/`.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..');
  const built = ['sdk.js', 'worker-entry.js'].map((f) => path.join(root, 'dist', f));
  const sources = [
    path.join(root, 'src/sdk'),
    path.join(root, 'src/shared'),
    path.join(root, 'src/loader/worker'),
    path.join(root, 'src/errors.ts'),
  ].flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).map((f) => path.join(p, f)) : [p]));
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (built.some((f) => !existsSync(f) || statSync(f).mtimeMs < newest)) {
    execFileSync(
      process.execPath,
      [path.join(root, 'node_modules/tsup/dist/cli-default.js'), '--silent'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  }
}
