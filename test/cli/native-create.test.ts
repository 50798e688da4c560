/**
 * `veza plugin create --runtime process --lang go|rust`, then `veza plugin validate` and `veza plugin
 * test` with no edits: the native templates build (`go build`, `cargo build --release`) on the SDKs
 * this package ships, load in bubblewrap, and pass their own tests (`go test`, `cargo test`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cargoReason, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const bwrap = usable('the native template tests', bwrapReason(), 'apt-get install -y bubblewrap');
const languages = [
  ['go', usable('the Go template test', goReason(), 'install Go 1.26'), 'go test'],
  ['rust', usable('the Rust template test', cargoReason(), 'install Rust by rustup'), 'cargo test'],
] as const;

function veza(args: string[], cwd: string) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        cwd,
        timeout: 600_000,
        // Cargo's build folder is shared between runs (.cache/, as CI keeps it).
        env: {
          ...process.env,
          NO_COLOR: '1',
          NODE_OPTIONS: '',
          CARGO_TARGET_DIR: path.join(root, '.cache/cargo-target'),
        },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          out: stdout + stderr,
        }),
    );
  });
}

const project = mkdtempSync(path.join(os.tmpdir(), 'veza-native-'));
mkdirSync(path.join(project, 'node_modules/@veza'), { recursive: true });
symlinkSync(root, path.join(project, 'node_modules/@veza/plugin-gateway'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe.each(languages.filter(([, ready]) => ready && bwrap))(
  'veza plugin create --lang %s',
  (lang, _, ownTests) => {
    it('creates a plugin that validates and passes veza plugin test with no edits', async () => {
      const created = await veza(
        ['plugin', 'create', `hello-${lang}`, '--runtime', 'process', '--lang', lang],
        project,
      );
      expect(created.code, created.out).toBe(0);
      const dir = path.join(project, `hello-${lang}`);
      expect(readFileSync(path.join(dir, 'plugin.yaml'), 'utf8')).toContain(`name: hello-${lang}`);
      const validated = await veza(['plugin', 'validate'], dir);
      expect(validated.code, validated.out).toBe(0);
      expect(existsSync(path.join(dir, 'bin/plugin'))).toBe(true);
      const tested = await veza(['plugin', 'test'], dir);
      expect(tested.code, tested.out).toBe(0);
      expect(tested.out).toContain(ownTests);
    }, 600_000);
  },
);

describe('veza plugin create, native languages', () => {
  it('--lang go alone makes a native (process) plugin; a worker plugin in Go is refused, naming the runtimes', async () => {
    const created = await veza(['plugin', 'create', 'alone-go', '--lang', 'go'], project);
    expect(created.code, created.out).toBe(0);
    expect(readFileSync(path.join(project, 'alone-go', 'plugin.yaml'), 'utf8')).toMatch(
      /type: process/,
    );
    const refused = await veza(
      ['plugin', 'create', 'nope', '--runtime', 'worker', '--lang', 'go'],
      project,
    );
    expect(refused.code).toBe(2);
    expect(refused.out).toContain(
      '--lang for a worker plugin is one of ts, js, got "go" (Go and Rust: --runtime process for a native program, --runtime wasm for a module)',
    );
  });
});
