/**
 * Class F of issue 23: `veza plugin pack --sign-key` refuses a private key file other users can read
 * (as ssh refuses a 0644 key): whoever reads it can sign plugins for the fleet. And a signature names
 * the environment it is for, so `--env` goes with a key.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const folder = mkdtempSync(path.join(os.tmpdir(), 'veza-key-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function veza(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: root, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(process.platform === 'win32')('veza plugin pack --sign-key', () => {
  const keyFile = path.join(folder, 'signing.pem');
  const pem = generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const out = path.join(folder, 'entry.json');
  const pack = (...more: string[]) =>
    veza(['plugin', 'pack', fixture('profiles'), '--sign-key', keyFile, '--out', out, ...more]);

  it('refuses a key file that group or others can read or write', async () => {
    writeFileSync(keyFile, pem);
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(keyFile, mode);
      const run = await pack('--env', 'staging');
      expect(run.code, `mode ${mode.toString(8)}`).not.toBe(0);
      expect(run.stderr).toContain(`mode 0${mode.toString(8)}`);
      expect(run.stderr).toContain('chmod 600');
    }
  });

  it('signs with a key file only its owner can read, for the environment named', async () => {
    writeFileSync(keyFile, pem);
    chmodSync(keyFile, 0o600);
    const withoutEnv = await pack();
    expect(withoutEnv.code).toBe(2);
    expect(withoutEnv.stderr).toContain('--env is required');
    const run = await pack('--env', 'staging', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ signed: true });
    const entry = JSON.parse(readFileSync(out, 'utf8')) as { signature: { env: string } };
    expect(entry.signature.env).toBe('staging');
  });
});
