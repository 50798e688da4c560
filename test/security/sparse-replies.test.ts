import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { createRequestListener } from '../../src/adapters/node.js';
import { replyBytesAtLeast } from '../../src/loader/reply-size.js';
import { gatewayWith } from '../helpers.js';

/**
 * The host measured a reply by its keys: an array with no elements and a length of 2^32 - 1 counted a
 * few bytes, crossed the thread boundary in a few bytes, then made the adapter build gigabytes of
 * `null,` in JSON.stringify (seconds of a blocked event loop, then a RangeError). Every array slot
 * counts now, hole or not.
 */
let gateway: PluginGateway;
let server: Server;
let base: string;
beforeAll(async () => {
  gateway = await gatewayWith(['reply-sparse']);
  server = http.createServer(createRequestListener(gateway));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await gateway?.stop();
});

describe('a sparse array swapped into a reply', () => {
  it('is refused as too large before the adapter writes it: 500 PGW_ERR_RESPONSE_TOO_LARGE', async () => {
    const res = await fetch(`${base}/sparse`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'PGW_ERR_RESPONSE_TOO_LARGE',
    );
    expect(await (await fetch(`${base}/small`)).json()).toEqual({ ok: true });
  }, 30_000);

  it('counts each slot of an array, holes included', () => {
    const holes: unknown[] = [];
    holes.length = 1_000_000;
    expect(replyBytesAtLeast({ body: holes }, 1000)).toBeGreaterThan(1000);
    expect(replyBytesAtLeast({ body: [1, 2, 3] }, 1000)).toBeLessThan(100);
  });
});
