/**
 * Class F of issue 23: `veza gateway serve` guards against DNS rebinding when it is bound to loopback,
 * whatever spelling of loopback the config uses (`127.1`, `::ffff:127.0.0.1`, `localhost`): the guard
 * reads what the server is bound to, not the config's text. Real `veza` processes on real ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../../src/cli/serve.js';
import { freePort } from '../services/common.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const dir = mkdtempSync(path.join(root, 'test/.serve-bound-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** `veza gateway serve` with `listen.host: host`; resolves once it serves. */
function serve(host: string, port: number): Promise<ChildProcess> {
  const config = path.join(dir, `gateway-${port}.yaml`);
  writeFileSync(config, `listen: { host: "${host}", port: ${port} }\n`);
  const child = spawn(process.execPath, [cli, 'gateway', 'serve', '--config', config], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (/gateway serving/.test(err)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

/** A GET to 127.0.0.1:port with the Host header a rebinding page's browser sends. */
function ask(port: number, hostHeader: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/anything', headers: { host: hostHeader } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject).end();
  });
}

describe('veza gateway serve bound to loopback, however the config spells it', () => {
  it.each(['127.1', '::ffff:127.0.0.1', '127.0.0.1', 'localhost'])(
    'listen.host %s: a request addressed to another name is refused',
    async (host) => {
      const port = await freePort();
      const child = await serve(host, port);
      try {
        expect(await ask(port, 'attacker.example')).toBe(403);
        expect(await ask(port, `attacker.example:${port}`)).toBe(403);
        // A loopback name reaches the gateway (no plugin there: 404).
        expect(await ask(port, `localhost:${port}`)).toBe(404);
      } finally {
        child.kill('SIGTERM');
      }
    },
  );

  it('tells loopback addresses as the kernel reports them', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackAddress(a), a).toBe(true);
    }
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', undefined]) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
  });
});
