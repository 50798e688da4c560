import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
let server: http.Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/redirect') return res.writeHead(302, { location: '/target' }).end();
    if (req.url === '/big') return res.end('x'.repeat(4096));
    res.end('hello from the host network');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => closeServer(server));
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  hits.length = 0;
});

const ask = (path: string, url: string) =>
  gateway!.handle({ method: 'POST', path, headers: {}, body: { url } });

describe('ctx.fetch: the network through the host, only to granted hosts', () => {
  it('reaches a host its manifest grants (worker runtime)', async () => {
    gateway = await gatewayWith(['fetcher']);
    const res = await ask('/fetcher', `${base}/`);
    expect(res.body).toEqual({ status: 200, text: 'hello from the host network', bytes: 27 });
  });

  it('refuses a host its manifest does not grant, before any connection', async () => {
    gateway = await gatewayWith(['fetcher']);
    const other = base.replace('127.0.0.1', 'localhost');
    const res = await ask('/fetcher', `${other}/`);
    expect(res.statusCode).toBe(502);
    expect((res.body as { error: string }).error).toMatch(/not in permissions\.network/);
    expect(hits).toEqual([]);
  });

  it('does not follow redirects, refuses credentials in URLs and answers past maxResponseBytes', async () => {
    gateway = await gatewayWith(['fetcher'], { maxResponseBytes: 1024 });
    expect((await ask('/fetcher', `${base}/redirect`)).body).toMatchObject({ status: 302 });
    expect(hits).toEqual(['/redirect']);
    const withUser = await ask('/fetcher', base.replace('http://', 'http://user:pw@') + '/');
    expect((withUser.body as { error: string }).error).toMatch(/credentials/);
    const big = await ask('/fetcher', `${base}/big`);
    expect((big.body as { error: string }).error).toMatch(/larger than 1024 bytes/);
  });

  it('is how a process plugin reaches a granted host, from inside its sandbox', async () => {
    gateway = await gatewayWith(['proc-fetcher']);
    const res = await ask('/proc-fetcher', `${base}/`);
    expect(res.body).toEqual({ status: 200, text: 'hello from the host network', bytes: 27 });
    expect(gateway.get('proc-fetcher')?.runtime).toBe('process');
  });
});
