import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashFiles, hashPluginFolder } from './folder-hash.js';

describe('hashPluginFolder', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes a folder read in bytes as hashFiles hashes the same files in base64 (catalog entries)', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-hash-'));
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff));
    mkdirSync(path.join(dir, 'bin'));
    writeFileSync(path.join(dir, 'bin', 'plugin'), binary);
    writeFileSync(path.join(dir, 'plugin.yaml'), 'name: x\n');
    writeFileSync(path.join(dir, '.env'), 'A=1');
    writeFileSync(path.join(dir, 'Zed'), '');
    symlinkSync('bin/plugin', path.join(dir, 'current'));
    const expected = hashFiles({
      'bin/plugin': binary.toString('base64'),
      'plugin.yaml': Buffer.from('name: x\n').toString('base64'),
      '.env': Buffer.from('A=1').toString('base64'),
      Zed: '',
      'current\0link': Buffer.from('bin/plugin').toString('base64'),
    });
    expect(await hashPluginFolder(dir)).toBe(expected);
    writeFileSync(path.join(dir, 'bin', 'plugin'), Buffer.concat([binary, Buffer.from([0])]));
    expect(await hashPluginFolder(dir)).not.toBe(expected);
  });
});
