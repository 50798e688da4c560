import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, closeServer } from '../helpers.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await closeServer(server);
  await gateway?.stop();
  gateway = server = undefined;
});

async function serve(options: Parameters<typeof createRequestListener>[1] = {}) {
  gateway = await gatewayWith(['echo', 'profiles']);
  server = http.createServer(createRequestListener(gateway, options));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('createRequestListener (./node)', () => {
  it('translates JSON, text and the query in, and the response out, under a prefix', async () => {
    const base = await serve({ prefix: '/api' });
    const json = await fetch(`${base}/api/echo/ada?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1 }),
    });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(await json.json()).toMatchObject({ name: 'ada', body: { n: 1 }, query: { x: '1' } });
    const text = await fetch(`${base}/api/echo/bob`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(await text.json()).toMatchObject({ body: 'hello' });
    const profile = await fetch(`${base}/api/profiles/1`);
    expect(await profile.json()).toMatchObject({ id: '1' });
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${base}/api/nothing`)).status).toBe(404);
  });

  it('answers 400 for malformed JSON and 413 beyond bodyLimit, without reaching the plugin', async () => {
    const base = await serve({ bodyLimit: 100 });
    const bad = await fetch(`${base}/echo/x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'PGW_ERR_BAD_REQUEST' } });
    const big = await fetch(`${base}/echo/x`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(big.status).toBe(413);
    expect(gateway!.metrics('echo').request_count).toBe(0);
  });

  it('passes the plugin’s status codes and headers through, and error bodies as JSON', async () => {
    const base = await serve();
    const res = await fetch(`${base}/whoami`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_UNAUTHORIZED' } });
    const wrong = await fetch(`${base}/whoami`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
  });
});
