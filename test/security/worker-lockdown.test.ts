import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, get } from '../helpers.js';

/**
 * A plugin in a worker thread tries what it could do against its host before the lockdown. The
 * intruder is copied outside the library's folder, beside a file of the host's that it must not read.
 */
let home: string;
let gateway: PluginGateway;
let server: http.Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-lockdown-test-'));
  writeFileSync(path.join(home, 'host-secret.txt'), 'the host keeps this');
  cpSync(fixture('intruder'), path.join(home, 'plugins', 'intruder'), { recursive: true });
  server = http.createServer((_req, res) => {
    hits++;
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(home, 'plugins', 'intruder'));
  await gateway.load(fixture('intruder-net'));
  await gateway.start();
});

afterAll(async () => {
  await gateway?.stop();
  server?.close();
  rmSync(home, { recursive: true, force: true });
});

interface Outcome {
  allowed: boolean;
  value?: unknown;
  code?: string;
}

async function attempt(what: string, query = ''): Promise<Outcome> {
  const res = await get(gateway, `/try/${what}${query}`);
  expect(res.statusCode).toBe(200);
  return res.body as Outcome;
}

describe('a worker plugin cannot reach into the host process', () => {
  it.each([
    'inspector-import',
    'inspector-bare',
    'inspector-require',
    'inspector-promises',
    'inspector-builtin',
  ])('no inspector session on the main thread (%s)', async (what) => {
    expect(await attempt(what)).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });

  it.each(['child-import', 'child-require', 'child-builtin', 'child-cluster', 'worker'])(
    'no child process and no thread of its own (%s)',
    async (what) => {
      expect(await attempt(what)).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    },
  );

  it.each(['binding', 'linked-binding', 'dlopen', 'module-register'])(
    'no Node internals, addons or loader hooks (%s)',
    async (what) => {
      expect(await attempt(what)).toMatchObject({ allowed: false });
    },
  );

  it.each(['kill', 'kill-binding', 'abort', 'v8-flags', 'priority'])(
    'no process-wide lever: signals, abort, V8 flags, priority (%s)',
    async (what) => {
      expect(await attempt(what)).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    },
  );
});

describe("a worker plugin cannot read the host's secrets or files", () => {
  it('sees no environment but its TMPDIR, and neither process.report nor /proc/self/environ', async () => {
    const env = await attempt('env');
    expect(Object.keys(JSON.parse(String(env.value)))).toEqual(['TMPDIR']);
    expect(await attempt('report')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(await attempt('environ')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });

  it('reads its own folder only: not /etc/passwd, not a host file beside its folder', async () => {
    expect(await attempt('own-file')).toMatchObject({ allowed: true });
    expect(await attempt('passwd')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(await attempt('realpath-host')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(await attempt('realpath-missing')).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    expect(await attempt('sibling')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });

  it('writes only its scratch folder (its os.tmpdir()), which goes when it is unloaded', async () => {
    expect(await attempt('write-own-folder')).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    expect(await attempt('write-tmp')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(existsSync('/tmp/pgw-intruder-dropped.txt')).toBe(false);
    const scratch = await attempt('write-scratch');
    expect(scratch.allowed).toBe(true);
    const [dir, content] = String(scratch.value).split('|');
    expect(content).toBe('kept');
    expect(dir).toMatch(/pgw-intruder-/);
    expect(existsSync(dir!)).toBe(true);
    await gateway.unload('intruder');
    expect(existsSync(dir!)).toBe(false);
    await gateway.load(path.join(home, 'plugins', 'intruder'));
  });
});

describe('a worker plugin reaches only the hosts of its permissions.network', () => {
  it.each(['fetch', 'fetch-localhost', 'http-get', 'net-connect'])(
    'without the permission, a loopback HTTP server is out of reach (%s)',
    async (what) => {
      const before = hits;
      expect(await attempt(what, `?port=${port}`)).toEqual({
        allowed: false,
        code: 'ERR_ACCESS_DENIED',
      });
      expect(hits).toBe(before);
    },
  );

  it('sends no datagram, resolves no name, opens no Unix socket and listens on no port', async () => {
    const udp = dgram.createSocket('udp4');
    let received = 0;
    udp.on('message', () => received++);
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const udpPort = (udp.address() as AddressInfo).port;
    expect(await attempt('udp', `?port=${udpPort}`)).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    expect(await attempt('dns')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(await attempt('unix-socket')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    expect(await attempt('listen')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    await new Promise((r) => setTimeout(r, 50));
    udp.close();
    expect(received).toBe(0);
  });

  it('with permissions.network: [127.0.0.1], fetch and http reach it; localhost stays out', async () => {
    const net = (what: string) =>
      get(gateway, `/net/${what}?port=${port}`).then((r) => r.body as Outcome);
    const before = hits;
    expect(await net('fetch')).toEqual({ allowed: true, value: 200 });
    expect(await net('http-get')).toEqual({ allowed: true, value: 200 });
    expect(hits).toBe(before + 2);
    expect(await net('fetch-localhost')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });
});
