import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManifestInvalidError, PluginLoadError } from '../errors.js';
import { parseManifest } from './manifest.js';
import { readPluginFiles } from './plugin-files.js';

const manifest = (runtime: string, extra = '') =>
  `name: native\nversion: 1.0.0\n${extra}runtime:\n${runtime}\n`;

function problem(text: string): string {
  try {
    parseManifest(text, { file: 'plugin.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestInvalidError);
    return (error as Error).message;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('runtime.command in plugin.yaml', () => {
  it('takes a program in the folder, or an allowlisted interpreter and its script', () => {
    const own = parseManifest(manifest('  type: process\n  command: [./bin/plugin, --quiet]'));
    expect(own.runtime.command).toEqual(['./bin/plugin', '--quiet']);
    const python = parseManifest(
      manifest('  type: process\n  command: [/usr/bin/python3, main.py]'),
    );
    expect(python.runtime.command).toEqual(['/usr/bin/python3', 'main.py']);
  });

  it.each([
    ['a bare name (looked up nowhere)', 'command: [plugin]', 'plugin.yaml:5:13 runtime.command.0'],
    ['a path leaving the folder', 'command: [./../bin/sh]', 'runtime.command.0'],
    ['an absolute path outside the allowlist', 'command: [/tmp/x]', 'an interpreter in /usr/bin/'],
    ['an absolute path that climbs out', 'command: [/usr/bin/../../tmp/x]', 'an interpreter in'],
    ['an empty command', 'command: []', 'runtime.command'],
    ['a word with NUL', 'command: ["./a\\0b"]', 'NUL'],
    ['a number', 'command: [7]', 'runtime.command.0'],
  ])('refuses %s, naming the file, line and field', (_, line, expected) => {
    expect(problem(manifest(`  type: process\n  ${line}`))).toContain(expected);
  });

  it('refuses a command outside the process runtime, and next to a main', () => {
    expect(problem(manifest('  type: worker\n  command: [./p]'))).toContain(
      'runtime.command: a native command runs in the process runtime only',
    );
    expect(problem(manifest('  type: process\n  command: [./p]', 'main: index.js\n'))).toContain(
      'main: a plugin with runtime.command has no main',
    );
  });
});

describe('reading a native plugin folder', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgw-native-files-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  function folder(command: string, setup: (dir: string) => void = () => {}) {
    const dir = path.join(root, String(++n));
    mkdirSync(path.join(dir, 'bin'), { recursive: true });
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      manifest(`  type: process\n  command: ${command}`),
    );
    setup(dir);
    return dir;
  }
  const loadError = async (dir: string) => {
    const error = await readPluginFiles(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    return (error as Error).message;
  };

  it('resolves the program to its real path and keeps the arguments', async () => {
    const dir = folder('[./bin/plugin, -v]', (d) => {
      writeFileSync(path.join(d, 'bin/plugin'), '#!/bin/sh\n', { mode: 0o755 });
    });
    const files = await readPluginFiles(dir);
    expect(files.command).toEqual([path.join(dir, 'bin/plugin'), '-v']);
    expect(files.mainPath).toBe(path.join(dir, 'bin/plugin'));
  });

  it('refuses a missing, non-executable or escaping program, naming the field', async () => {
    expect(await loadError(folder('[./bin/plugin]'))).toMatch(
      /plugin\.yaml:5:\d+ runtime\.command\.0: program "\.\/bin\/plugin" does not exist/,
    );
    const plain = folder('[./bin/plugin]', (d) => writeFileSync(path.join(d, 'bin/plugin'), 'x'));
    chmodSync(path.join(plain, 'bin/plugin'), 0o644);
    expect(await loadError(plain)).toContain('is not executable');
    const out = folder('[./bin/plugin]', (d) => symlinkSync('/bin/sh', path.join(d, 'bin/plugin')));
    expect(await loadError(out)).toContain("resolves outside the plugin's folder");
    const dirProgram = folder('[./bin]');
    expect(await loadError(dirProgram)).toContain('is not a file');
  });

  it('refuses an interpreter that is not installed', async () => {
    expect(await loadError(folder('[/usr/bin/no-such-interpreter-pgw]'))).toContain(
      'is not installed',
    );
  });
});
