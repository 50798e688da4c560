import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `${file:/path}` in gateway.yaml read the whole file before checking its 1 MiB limit: a reference to
 * `/dev/zero` (an operator's typo, or a path someone else controls) kept `veza gateway serve` reading
 * until memory ran out, and a FIFO blocked the start for ever. The file is read no further than the
 * limit, and only a regular file is read.
 */
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const dir = mkdtempSync(path.join(root, 'test/.config-references-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `veza gateway serve --check` on `yaml`; its exit code and stderr. */
function check(yaml: string): Promise<{ code: number | null; err: string }> {
  const config = path.join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(config, yaml);
  const child = spawn(process.execPath, [cli, 'gateway', 'serve', '--check', '--config', config], {
    env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '--max-old-space-size=256' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // The test's own timeout is the only clock: a child still reading when it fires is killed here.
  afterAll(() => void (child.exitCode === null && child.kill('SIGKILL')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, err })));
}

describe('${file:} references that are not small regular files', () => {
  it('an endless device is refused at its line, without reading it', async () => {
    const { code, err } = await check('gateway:\n  node:\n    secret: ${file:/dev/zero}\n');
    expect(code).toBe(1);
    expect(err).toMatch(/:3:13 gateway\.node\.secret: \/dev\/zero is not a regular file/);
  }, 30_000);

  it('a FIFO is refused at its line instead of blocking the start', async () => {
    const fifo = path.join(dir, 'secret.fifo');
    execFileSync('mkfifo', [fifo]);
    const { code, err } = await check(`gateway:\n  node:\n    secret: \${file:${fifo}}\n`);
    expect(code).toBe(1);
    expect(err).toContain(`gateway.node.secret: ${fifo} is not a regular file`);
  }, 30_000);

  it('a regular file past 1 MiB is refused; one within it is read, its final newline dropped', async () => {
    const big = path.join(dir, 'big');
    writeFileSync(big, Buffer.alloc(1024 * 1024 + 1, 'a'));
    const refused = await check(`gateway:\n  node:\n    secret: \${file:${big}}\n`);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`${big} is larger than 1 MiB`);
    const timeout = path.join(dir, 'timeout');
    writeFileSync(timeout, '2s\n');
    const read = await check(`gateway:\n  pluginTimeout: \${file:${timeout}}\n`);
    expect(read).toMatchObject({ code: 0 });
  }, 30_000);

  it('a secret read into a field that rejects it is named by its line, never printed', async () => {
    const secret = path.join(dir, 'secret');
    writeFileSync(secret, 'hunter2-do-not-print\n');
    const { code, err } = await check(
      `gateway:\n  sandbox:\n    untrusted: \${file:${secret}}\n  balancer: \${file:${secret}}\n`,
    );
    expect(code).toBe(1);
    expect(err).toContain('gateway.sandbox.untrusted');
    expect(err).toContain('gateway.balancer');
    expect(err).not.toContain('hunter2');
  }, 30_000);
});
