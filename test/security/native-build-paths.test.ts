/**
 * `veza plugin validate` and `test` build a native plugin into the path its `runtime.command` names: a
 * `bin` that is a symbolic link leading out of the folder must not make the toolchain write elsewhere.
 * The refusal comes before any toolchain runs, so no Go or Rust is needed here.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNative } from '../../src/cli/native-build.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pgw-native-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plugin(name: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/p\n\ngo 1.24\n');
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nruntime: { type: process, command: [./bin/plugin] }\nendpoints:\n  - { path: /${name}, method: GET }\n`,
  );
  return dir;
}

describe('building a native plugin', () => {
  it('refuses a bin folder that is a link leading out of the plugin', async () => {
    const outside = mkdtempSync(path.join(root, 'outside-'));
    const dir = plugin('linked-bin');
    symlinkSync(outside, path.join(dir, 'bin'));
    await expect(buildNative(dir)).rejects.toThrow(/leads out of the plugin's folder/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses a program that is itself a link, wherever it points', async () => {
    const dir = plugin('linked-program');
    mkdirSync(path.join(dir, 'bin'));
    symlinkSync(path.join(root, 'elsewhere'), path.join(dir, 'bin', 'plugin'));
    await expect(buildNative(dir)).rejects.toThrow(/it is a symbolic link/);
    expect(existsSync(path.join(root, 'elsewhere'))).toBe(false);
  });
});
