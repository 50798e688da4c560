import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Plugins import `@veza/plugin-gateway/sdk` as published, which resolves to `dist/` through the
 * package's own exports. `npm ci` builds it (the `prepare` script); rebuild here when the SDK's
 * sources are newer, so a test never runs a plugin against a stale SDK. The gateway itself runs
 * from `src/`.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..');
  const built = path.join(root, 'dist', 'sdk.js');
  const sources = [path.join(root, 'src/sdk'), path.join(root, 'src/shared')].flatMap((p) =>
    statSync(p).isDirectory() ? readdirSync(p).map((f) => path.join(p, f)) : [p],
  );
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (!existsSync(built) || statSync(built).mtimeMs < newest) {
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
