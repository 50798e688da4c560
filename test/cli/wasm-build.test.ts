import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goWasmReason, usable } from '../services/toolchains.js';

/**
 * `veza plugin validate` and `pack` build a Go wasm plugin made by `veza plugin create` (its
 * build.sh) before they read plugin.wasm: a compile error is a validation error with the compiler's
 * words; a pack ships the built module and the sources, never cargo's target/.
 */
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const present = usable('the Go wasm build tests', goWasmReason(), 'Go 1.24 or later');

function veza(args: string[], cwd: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd, timeout: 600_000, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' } },
      (error, stdout) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

describe.skipIf(!present)('veza builds a Go wasm plugin before it validates or packs it', () => {
  let project: string;
  let plugin: string;
  beforeAll(async () => {
    project = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-build-'));
    plugin = path.join(project, 'go-hits');
    const made = await veza(
      ['plugin', 'create', 'go-hits', '--runtime', 'wasm', '--lang', 'go'],
      project,
    );
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('next: cd go-hits && npx veza plugin test');
  }, 600_000);
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('validate builds plugin.wasm, then finds the plugin valid', async () => {
    expect(existsSync(path.join(plugin, 'plugin.wasm'))).toBe(false);
    const run = await veza(['plugin', 'validate', '--json'], plugin);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, name: 'go-hits' });
    expect(existsSync(path.join(plugin, 'plugin.wasm'))).toBe(true);
    expect(readFileSync(path.join(plugin, 'go.mod'), 'utf8')).toMatch(/^module go-hits$/m);
  }, 600_000);

  it("a compile error is a validation error at build.sh, with the compiler's message", async () => {
    const main = path.join(plugin, 'main.go');
    const good = readFileSync(main, 'utf8');
    writeFileSync(main, good.replace('n++', 'n++ +'));
    try {
      const run = await veza(['plugin', 'validate', '--json'], plugin);
      expect(run.code).toBe(1);
      const result = JSON.parse(run.stdout) as {
        ok: boolean;
        problems: { file: string; message: string }[];
      };
      expect(result.ok).toBe(false);
      expect(result.problems[0]!.file).toBe(path.join(plugin, 'build.sh'));
      expect(result.problems[0]!.message).toMatch(/build\.sh \(go\) failed[\s\S]*main\.go:\d+/);
    } finally {
      writeFileSync(main, good);
    }
  }, 600_000);

  it('pack ships plugin.wasm and the sources (pgw included), not cargo-style target/', async () => {
    mkdirSync(path.join(plugin, 'target'), { recursive: true });
    writeFileSync(path.join(plugin, 'target', 'junk.o'), 'x');
    const out = path.join(project, 'entry.json');
    const run = await veza(['plugin', 'pack', '--out', out], plugin);
    expect(run.code).toBe(0);
    const files = Object.keys((JSON.parse(readFileSync(out, 'utf8')) as { files: object }).files);
    expect(files).toEqual(
      expect.arrayContaining(['plugin.wasm', 'main.go', 'go.mod', 'pgw/pgw.go']),
    );
    expect(files.some((f) => f.startsWith('target/'))).toBe(false);
  }, 600_000);
});
