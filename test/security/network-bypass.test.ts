import { mkdtempSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, get } from '../helpers.js';

/**
 * A plugin granted one host name tries to reach the test's loopback servers past a guard that checks
 * names: a custom `lookup`, an options array whose first element names the granted host, Unix and
 * abstract sockets, a datagram through a resolver of its own. From a worker thread and from a process
 * without bubblewrap (where the guard is all there is: under bubblewrap the kernel has no route).
 */
let home: string;
let hits = 0;
let tcpPort: number;
let udpPort: number;
const abstractName = `pgw-bypass-${process.pid}`;
let unixPath: string;
const servers: net.Server[] = [];
let udp: dgram.Socket;
const gateways: Record<'worker' | 'process', PluginGateway> = {} as never;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-network-bypass-'));
  unixPath = path.join(home, 'host.sock');
  const listening = (server: net.Server, ...args: unknown[]) =>
    new Promise<void>((resolve) => {
      servers.push(server);
      server.on('connection', (socket) => {
        hits++;
        socket.destroy();
      });
      (server.listen as (...a: unknown[]) => void)(...args, resolve);
    });
  const web = http.createServer((_req, res) => res.end('reached'));
  await listening(web, 0, '127.0.0.1');
  tcpPort = (web.address() as AddressInfo).port;
  await listening(net.createServer(), unixPath);
  await listening(net.createServer(), `\0${abstractName}`);
  udp = dgram.createSocket('udp4').on('message', () => hits++);
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  udpPort = (udp.address() as AddressInfo).port;

  gateways.worker = new PluginGateway({ logger: false });
  await gateways.worker.load(fixture('intruder-bypass'));
  // Untrusted: it runs in the process runtime, here without bubblewrap.
  gateways.process = new PluginGateway({ logger: false, sandbox: { bwrap: false } });
  await gateways.process.load(fixture('intruder-bypass'), { trusted: false });
  await Promise.all(Object.values(gateways).map((g) => g.start()));
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g?.stop()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  udp?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.each(['worker', 'process'] as const)('a %s plugin granted one name', (kind) => {
  it('runs where the test means it to', () => {
    expect(gateways[kind].get('intruder-bypass')?.runtime).toBe(kind);
  });

  it.each(['lookup', 'http-lookup', 'array', 'array-unix', 'array-abstract', 'udp-lookup'])(
    'reaches no loopback server past the guard (%s)',
    async (what) => {
      const before = hits;
      const query = `?port=${what.startsWith('udp') ? udpPort : tcpPort}&path=${encodeURIComponent(unixPath)}&name=${abstractName}`;
      const res = await get(gateways[kind], `/bypass/${what}${query}`);
      expect(res.statusCode).toBe(200);
      expect(res.body).toMatchObject({ allowed: false });
      await new Promise((r) => setTimeout(r, 20));
      expect(hits).toBe(before);
    },
  );
});
