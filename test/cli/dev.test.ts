/**
 * `veza plugin dev` as a user runs it: saving broken code shows the error and the last version that
 * loaded serves on; saving it fixed swaps the new code in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../registry/contract.js';
import { fixture } from '../helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

describe('veza plugin dev', () => {
  let dir: string;
  let plugin: string;
  let dev: ChildProcess;
  let stderr = '';
  let base = '';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'veza-dev-'));
    mkdirSync(path.join(dir, 'node_modules/@veza'), { recursive: true });
    symlinkSync(root, path.join(dir, 'node_modules/@veza/plugin-gateway'));
    plugin = path.join(dir, 'echo');
    cpSync(fixture('echo'), plugin, { recursive: true });
    writeFileSync(path.join(plugin, 'package.json'), '{ "type": "module" }\n');
    dev = spawn(process.execPath, [cli, 'plugin', 'dev', plugin, '--port', '0'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    dev.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await until(() => /serving on (http:\/\/\S+)/.test(stderr), 'dev serving', 60_000);
    base = /serving on (http:\/\/\S+)/.exec(stderr)![1]!;
  }, 90_000);
  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      const exited = new Promise((r) => dev.once('exit', r));
      dev.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const echo = async () => {
    const res = await fetch(`${base}/echo/ada`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('serves the last good version while the code is broken, shows the error, then swaps the fix in', async () => {
    expect(await echo()).toMatchObject({ status: 200, body: { name: 'ada' } });
    const source = readFileSync(path.join(plugin, 'index.js'), 'utf8');

    const before = stderr.length;
    writeFileSync(path.join(plugin, 'index.js'), `${source}\nexport const broken = ;\n`);
    await until(() => stderr.slice(before).includes('still serving'), 'the error shown', 60_000);
    const shown = stderr.slice(before);
    expect(shown).toMatch(/index\.js:\d+:\d+: SyntaxError/);
    expect(shown).toContain('still serving echo@1.0.0');
    expect(await echo()).toMatchObject({ status: 200, body: { name: 'ada' } });

    const fixed = stderr.length;
    writeFileSync(path.join(plugin, 'index.js'), source.replace('name:', "saved: 'again', name:"));
    await until(() => stderr.slice(fixed).includes('reloaded'), 'reloaded', 60_000);
    expect(await echo()).toMatchObject({ status: 200, body: { saved: 'again', name: 'ada' } });
  });

  it('reloads every save made by rename (vim, sed -i), not only the first', async () => {
    const source = readFileSync(path.join(plugin, 'index.js'), 'utf8');
    for (const saved of ['first', 'second', 'third']) {
      const before = stderr.length;
      const temporary = path.join(plugin, `.index.js.${saved}~`);
      writeFileSync(temporary, source.replace('name:', `saved: '${saved}', name:`));
      renameSync(temporary, path.join(plugin, 'index.js'));
      await until(
        () => stderr.slice(before).includes('reloaded'),
        `save ${saved} reloaded`,
        60_000,
      );
      expect(await echo()).toMatchObject({ status: 200, body: { saved, name: 'ada' } });
    }
  }, 200_000);
});
