/**
 * A new user's project: the package packed with `npm pack` and unpacked into a temporary project's
 * node_modules, with its `dependencies` (and only the optional peers a test asks for) copied with
 * everything they depend on from this repository's node_modules: offline, and real files, since a
 * plugin thread may read only the node_modules folders above it. Nothing above the temporary folder
 * has a node_modules, so a missing optional peer is missing as it is on a plain install.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/** Packs the package once per test file (dist/ is fresh: the global setup rebuilt it). */
function packOnce(into: string): string {
  const out = execFileSync(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', into],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [{ filename }] = JSON.parse(out) as [{ filename: string }];
  return path.join(into, filename);
}

/** A temporary project with the package installed; `close()` removes it. */
export interface InstalledProject {
  /** The project folder. */
  dir: string;
  /** Runs the installed `veza` command in `cwd` (default: the project). */
  veza(
    args: string[],
    options?: { cwd?: string; env?: NodeJS.ProcessEnv },
  ): SpawnSyncReturns<string>;
  /** Runs `node file` in the project. */
  node(args: string[], options?: { env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string>;
  close(): void;
}

/** Installs the packed package into a new project, with `peers` (optional peers) linked too. */
export function installPacked(
  options: { peers?: string[]; type?: 'module' | 'commonjs' } = {},
): InstalledProject {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgw-install-'));
  const tarball = packOnce(dir);
  const target = path.join(dir, 'node_modules/@veza/plugin-gateway');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  rmSync(tarball);
  const pkg = JSON.parse(readFileSync(path.join(target, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const from of closure([...Object.keys(pkg.dependencies), ...(options.peers ?? [])])) {
    cpSync(from, path.join(dir, path.relative(root, from)), { recursive: true });
  }
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'new-user-app', private: true, type: options.type ?? 'module' }),
  );
  const env = (extra?: NodeJS.ProcessEnv) => ({ ...process.env, NO_COLOR: '1', ...extra });
  const cli = path.join(target, 'dist/cli.js');
  return {
    dir,
    veza: (args, o = {}) =>
      spawnSync(process.execPath, [cli, ...args], {
        cwd: o.cwd ?? dir,
        env: env(o.env),
        encoding: 'utf8',
        timeout: 60_000,
      }),
    node: (args, o = {}) =>
      spawnSync(process.execPath, args, {
        cwd: dir,
        env: env(o.env),
        encoding: 'utf8',
        timeout: 60_000,
      }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The folders (under this repository's node_modules) of `names` and all they depend on. */
function closure(names: string[]): Set<string> {
  const found = new Set<string>();
  const visit = (name: string, from: string) => {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) {
        if (found.has(candidate)) return;
        found.add(candidate);
        const meta = JSON.parse(readFileSync(path.join(candidate, 'package.json'), 'utf8')) as {
          dependencies?: Record<string, string>;
          optionalDependencies?: Record<string, string>;
        };
        for (const dep of Object.keys(meta.dependencies ?? {})) visit(dep, candidate);
        for (const dep of Object.keys(meta.optionalDependencies ?? {})) {
          try {
            visit(dep, candidate);
          } catch {
            // an optional dependency for another platform is not installed
          }
        }
        return;
      }
      if (dir === root || dir === path.dirname(dir)) throw new Error(`${name} is not installed`);
    }
  };
  for (const name of names) visit(name, root);
  return found;
}

/** True when an optional peer resolves from the project (it must not, unless linked). */
export function resolvesFrom(project: InstalledProject, name: string): boolean {
  return existsSync(path.join(project.dir, 'node_modules', name));
}
