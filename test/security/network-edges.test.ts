// What a stranger on the network or a low-privilege caller can try against the
// adapters and the management API beyond adapter-wire.test.ts. Each case failed before its fix.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackHostGuard } from '../../src/cli/serve.js';
import type { RequestHandlerLike } from '../../src/adapters/request-handler.js';
import { PluginGateway } from '../../src/index.js';
import { createManagement, type Management } from '../../src/management/index.js';
import {
  expressMount,
  fastifyMount,
  nodeMount,
  type Mount,
  type Mounted,
} from '../adapters/mounts.js';
import { gatewayWith, get } from '../helpers.js';

/** A handler that only counts what reaches it. */
function counting(): RequestHandlerLike & { calls: number } {
  const handler = {
    calls: 0,
    handle: async () => {
      handler.calls++;
      return { statusCode: 200, body: { ok: true } };
    },
  };
  return handler;
}

let host: Mounted | undefined;
let gateway: PluginGateway | undefined;
let management: Management | undefined;
afterEach(async () => {
  management?.close();
  management = undefined;
  await host?.close();
  host = undefined;
  await gateway?.stop();
  gateway = undefined;
});

describe('Fastify adapter: bodyLimit', () => {
  it('refuses a JSON body past the plugin’s bodyLimit, not only bodies of other types', async () => {
    const handler = counting();
    host = await fastifyMount('/plugins')(handler, { bodyLimit: 1000 });
    const body = JSON.stringify({ pad: 'x'.repeat(50_000) }); // under Fastify's own 1 MiB default
    for (const type of ['application/json', 'text/plain', 'application/x-blob']) {
      const res = await fetch(`${host.plugins}/inspect`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect(res.status, type).toBe(413);
      expect(await res.json(), type).toMatchObject({ error: { code: 'PGW_ERR_BODY_TOO_LARGE' } });
    }
    expect(handler.calls).toBe(0);
  });
});

describe('management API: the admin role', () => {
  it('refuses a caller whose roles are a string that merely contains the role’s name', async () => {
    gateway = new PluginGateway({ logger: false });
    // A host hook written in JavaScript that passes a token's single `role` claim through as it came.
    const claims: Record<string, unknown> = {
      'Bearer trainee': 'sysadmin-trainee',
      'Bearer reader': 'not-an-admin',
      'Bearer admin': ['admin'],
    };
    management = createManagement(gateway, {
      authenticate: (req) => {
        const roles = claims[req.headers?.authorization ?? ''];
        return roles === undefined ? null : ({ userId: 'u', roles } as never);
      },
    });
    const as = (authorization: string) =>
      management!.handle({
        method: 'GET',
        path: '/api/plugins',
        headers: { authorization },
      });
    expect((await as('Bearer admin')).statusCode).toBe(200);
    expect((await as('Bearer trainee')).statusCode).toBe(403);
    expect((await as('Bearer reader')).statusCode).toBe(403);
  });
});

describe('anonymous rate limits: the client address', () => {
  it('counts IPv6 callers by their /64, so rotating addresses in one prefix gets no fresh budget', async () => {
    gateway = await gatewayWith(['limited']);
    const from = (clientAddress: string) =>
      get(gateway!, '/limited', { context: { clientAddress } });
    // One subscriber's /64 (2001:db8:1:2::/64), written every way a socket or a proxy may write it.
    const mine = [
      '2001:db8:1:2::1',
      '2001:db8:1:2::2',
      '2001:0db8:0001:0002:ffff:1:2:3',
      '2001:db8:1:2:aaaa::9',
      '2001:DB8:1:2::beef',
    ];
    for (const a of mine) expect((await from(a)).statusCode, a).toBe(200);
    expect((await from('2001:db8:1:2:dead:beef:0:1')).statusCode).toBe(429);
    // Another /64, and IPv4 callers, keep budgets of their own; an IPv4-mapped address is its IPv4.
    expect((await from('2001:db8:1:3::1')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await from('10.0.0.1')).statusCode).toBe(200);
    expect((await from('::ffff:10.0.0.1')).statusCode).toBe(429);
  });
});

describe('adapters: a path no plugin serves goes on to the host, a plugin’s 404 does not', () => {
  const post = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'hunter2' }),
    });
  const mounts: [string, Mount][] = [
    ['node:http', nodeMount],
    ['Express', expressMount('none')],
    ['Fastify', fastifyMount('/plugins')],
  ];
  it.each(mounts)(
    '%s: a plugin answering in the shape of the gateway’s no-route 404 is answered as it is',
    async (name, mount) => {
      gateway = await gatewayWith(['forged-not-found']);
      host = await mount(gateway);
      // Before: the host's not-found handler answered, or (node, Express) the host's own route at that
      // path ran after the plugin had read the body, so the plugin watched the request unseen.
      const paths = name === 'Fastify' ? ['/elsewhere'] : ['/elsewhere', '/host-upload'];
      for (const p of paths) {
        const res = await post(`${host.plugins}${p}`);
        expect(res.status, p).toBe(404);
        expect(await res.json(), p).toMatchObject({ error: { code: 'PGW_ERR_NOT_FOUND' } });
      }
      expect(gateway.metrics('forged-not-found')!.request_count).toBe(paths.length);
      // The gateway's own no-route answer still goes on to the host.
      const other = await fetch(`${host.plugins}/nothing-here`);
      expect(await other.text()).toBe('host 404');
    },
  );
});

describe('veza gateway serve / plugin dev on loopback: DNS rebinding', () => {
  it('answers 403 to a request addressed to another name, and serves loopback names', async () => {
    const server = http.createServer(
      loopbackHostGuard('127.0.0.1', (_req, res) => void res.end('served')),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // fetch() will not set Host: a raw request says what a browser sends after the rebinding.
    const ask = (hostHeader: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, path: '/echo/x', headers: { host: hostHeader } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on('error', reject).end();
      });
    try {
      for (const name of ['attacker.example', `attacker.example:${port}`, '127.0.0.1.nip.io']) {
        const res = await ask(name);
        expect(res.status, name).toBe(403);
        expect(JSON.parse(res.body), name).toMatchObject({ error: { code: 'PGW_ERR_FORBIDDEN' } });
      }
      for (const name of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        'localhost',
        '[::1]:80',
        'app.localhost',
      ]) {
        expect((await ask(name)).body, name).toBe('served');
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    // Bound to other addresses on purpose: the operator decided, the listener is left as it is.
    const listener = () => {};
    expect(loopbackHostGuard('0.0.0.0', listener)).toBe(listener);
  });
});
