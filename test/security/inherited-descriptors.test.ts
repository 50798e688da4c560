/**
 * A descriptor the host inherited without close-on-exec (a supervisor's socket, a log pipe, a file a
 * shell opened with `exec 200<file`) must not reach a plugin process: the join shell closes every
 * descriptor above the channel before the sandbox starts.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapReason, usable } from '../services/toolchains.js';

const haveBwrap = usable('the bubblewrap case', bwrapReason(), 'apt-get install -y bubblewrap');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-inherited-'));
const marker = `host-secret-${process.pid}`;
const secretFile = path.join(dir, 'secret');
writeFileSync(secretFile, marker, { mode: 0o600 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child host with the secret open on descriptor 42; resolves with what the plugin found. */
async function scan(bwrap: boolean): Promise<{ status: number; body: { found: number[] } }> {
  const fd = openSync(secretFile, 'r');
  try {
    const stdio = Array.from({ length: 43 }, (_, i) => (i === 1 || i === 2 ? 'pipe' : 'ignore'));
    (stdio as unknown[])[42] = fd;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(import.meta.dirname, 'inherited-descriptors.child.ts'),
        marker,
        bwrap ? 'yes' : 'no',
      ],
      { cwd: path.resolve(import.meta.dirname, '../..'), stdio: stdio as never },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    child.stderr!.on('data', (c: Buffer) => (err += c));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    if (code !== 0) throw new Error(`the child host exited ${code}: ${err}`);
    return JSON.parse(out.trim().split('\n').pop()!);
  } finally {
    closeSync(fd);
  }
}

describe('a descriptor the host inherited', () => {
  it.skipIf(!haveBwrap)(
    'does not reach a process plugin in bubblewrap',
    async () => {
      expect(await scan(true)).toEqual({ status: 200, body: { found: [] } });
    },
    60_000,
  );

  it('does not reach a process plugin under the permission model alone', async () => {
    expect(await scan(false)).toEqual({ status: 200, body: { found: [] } });
  }, 60_000);
});
