import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  repository?: unknown;
  homepage?: string;
  bugs?: unknown;
  license?: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** The files `npm publish` would ship, without running any script. */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  const [{ files }] = JSON.parse(out) as [{ files: { path: string }[] }];
  return new Set(files.map((f) => f.path));
}

describe('the published package', () => {
  const files = packedFiles();

  it('ships a LICENSE, the README, the docs and says where it lives', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'docs/errors.md']) {
      expect(files, file).toContain(file);
    }
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toBeDefined();
    expect(pkg.homepage).toMatch(/^https:/);
    expect(pkg.bugs).toBeDefined();
  });

  it('ships the veza command, the testing helper and the templates; esbuild stays an optional peer', () => {
    expect(pkg.bin).toEqual({ veza: './dist/cli.js' });
    for (const file of [
      'dist/cli.js',
      'dist/testing.js',
      'dist/testing.d.ts',
      'templates/wasm/c/plugin.yaml',
      'templates/native/go/go.mod',
      'templates/native/rust/src/main.rs',
      'sdk/go/serve.go',
      'sdk/go/go.sum',
      'sdk/rust/src/lib.rs',
      'sdk/rust/Cargo.toml',
    ]) {
      expect(files, file).toContain(file);
    }
    expect(pkg.dependencies?.['esbuild']).toBeUndefined();
    expect(pkg.peerDependenciesMeta?.['esbuild']).toEqual({ optional: true });
  });

  it('runs nothing when it is installed', () => {
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      expect(pkg.scripts[hook], hook).toBeUndefined();
    }
  });

  it('has no README or docs link that breaks in the tarball', () => {
    for (const doc of [...files].filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(root, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const file = path.posix.normalize(path.posix.join(path.posix.dirname(doc), target!));
        expect(files, `${doc} links to ${target}`).toContain(file);
      }
    }
  });
});
