import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await closeServer(server);
  await gateway?.stop();
  gateway = server = undefined;
});

async function listen(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What a JSON body parser of a framework does before the gateway sees the request. */
function parseJsonFirst(req: http.IncomingMessage, done: () => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    (req as http.IncomingMessage & { body?: unknown }).body = JSON.parse(
      Buffer.concat(chunks).toString() || '{}',
    );
    done();
  });
}

describe('createRequestListener in a host of its own', () => {
  it('serves a body another parser already read (it used to wait forever for its end)', async () => {
    gateway = await gatewayWith(['echo']);
    const listener = createRequestListener(gateway);
    const base = await listen((req, res) => parseJsonFirst(req, () => listener(req, res)));
    const res = await fetch(`${base}/echo/ada`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1 }),
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'ada', body: { n: 1 } });
  });

  it('falls through to the host for paths no plugin serves: next() or onNotFound', async () => {
    gateway = await gatewayWith(['echo', 'raw-responder']);
    const withNext = createRequestListener(gateway, { prefix: '/plugins' });
    const base = await listen((req, res) =>
      withNext(req, res, () => res.writeHead(200).end('the host serves this')),
    );
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('the host serves this');
    expect(await (await fetch(`${base}/plugins/nothing`)).text()).toBe('the host serves this');
    expect((await fetch(`${base}/plugins/echo/x`, { method: 'POST' })).status).toBe(200);
    await closeServer(server);
    const withHook = createRequestListener(gateway, {
      onNotFound: (_req, res) => res.writeHead(418).end(),
    });
    const hooked = await listen(withHook);
    expect((await fetch(`${hooked}/nothing`)).status).toBe(418);
    // A 404 the plugin answers itself is the plugin's answer, not a fall-through.
    expect((await fetch(`${hooked}/raw/status/404`)).status).toBe(404);
  });

  it('answers HEAD with the GET route, headers and length but no body', async () => {
    gateway = await gatewayWith(['profiles']);
    const base = await listen(createRequestListener(gateway));
    const get = await fetch(`${base}/profiles/1`);
    const body = await get.text();
    const head = await fetch(`${base}/profiles/1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(await head.text()).toBe('');
  });

  it('takes x-request-id in and gives it back; makes one up otherwise', async () => {
    gateway = await gatewayWith(['echo']);
    const base = await listen(createRequestListener(gateway));
    const mine = await fetch(`${base}/echo/x`, {
      method: 'POST',
      headers: { 'x-request-id': 'trace-42' },
    });
    expect(mine.headers.get('x-request-id')).toBe('trace-42');
    const made = await fetch(`${base}/echo/x`, { method: 'POST' });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    const junk = await fetch(`${base}/echo/x`, {
      method: 'POST',
      headers: { 'x-request-id': 'no spaces or "quotes"' },
    });
    expect(junk.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
  });

  it('counts the client behind trusted proxies, and only as many as it is told to trust', async () => {
    gateway = await gatewayWith(['limited']);
    const trusting = await listen(createRequestListener(gateway, { trustProxy: 1 }));
    const from = (base: string, client: string) =>
      fetch(`${base}/limited`, { headers: { 'x-forwarded-for': `6.6.6.6, ${client}` } });
    // rate_limit 5/min per caller: the sixth request of one client is refused, another client is not.
    for (let i = 0; i < 5; i++) expect((await from(trusting, '198.51.100.1')).status).toBe(200);
    expect((await from(trusting, '198.51.100.1')).status).toBe(429);
    expect((await from(trusting, '198.51.100.2')).status).toBe(200);
    // The client's own entry (6.6.6.6, leftmost) is never believed: it is one hop too far.
    expect((await from(trusting, '198.51.100.1')).status).toBe(429);
  });

  it('without trustProxy, x-forwarded-for is ignored: every client behind the proxy is its peer', async () => {
    gateway = await gatewayWith(['limited']);
    const base = await listen(createRequestListener(gateway));
    const from = (client: string) =>
      fetch(`${base}/limited`, { headers: { 'x-forwarded-for': client } });
    for (let i = 0; i < 5; i++) expect((await from(`198.51.100.${i}`)).status).toBe(200);
    expect((await from('198.51.100.99')).status).toBe(429);
  });
});
