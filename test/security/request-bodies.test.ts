// Item 4 of issue 14: a binary body reaches its plugin as exactly its own bytes. Small Buffers are views
// on Node's shared 8 KiB pool, and structured clone hands a worker a view's whole backing store: another
// request's body (a password) with it, unless the gateway copies the bytes first.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import { MemoryRegistry, type PluginGateway } from '../../src/index.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture, gatewayWith } from '../helpers.js';
import { until } from '../registry/contract.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
let nodes: FleetNode[] = [];
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await gateway?.stop();
  await Promise.all(nodes.map((n) => n.close()));
  gateway = server = undefined;
  nodes = [];
});

/** What body-inspector saw of the body: its view, and all the memory behind it. */
interface Seen {
  length: number;
  backing: number;
  offset: number;
  everything: string;
}

const PASSWORD = 'hunter2-correct-horse-battery';

describe('request bodies', () => {
  it('the node listener hands a plugin its own bytes, not the pool another body went through', async () => {
    gateway = await gatewayWith(['body-inspector']);
    server = http.createServer(createRequestListener(gateway));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let i = 0; i < 5; i++) {
      // Someone else's login goes through the same listener (and the same pool) first.
      await fetch(`${base}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'alice', password: PASSWORD }),
      });
      const res = await fetch(`${base}/inspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array([1, 2, 3, 4, 5]),
      });
      const seen = (await res.json()) as Seen;
      expect(seen).toMatchObject({ length: 5, backing: 5, offset: 0 });
      expect(seen.everything).toBe('\x01\x02\x03\x04\x05');
    }
  });

  it('copies Buffers the host passes to handle(), at the top and nested in an object', async () => {
    gateway = await gatewayWith(['body-inspector']);
    const secret = Buffer.from(`password=${PASSWORD}`);
    const mine = Buffer.from('mine');
    expect(mine.buffer).toBe(secret.buffer); // both on Node's pool, as a host's Buffers usually are
    const top = await gateway.handle({ method: 'POST', path: '/inspect', body: mine });
    expect(top.body).toMatchObject({ length: 4, backing: 4, everything: 'mine' });
    const nested = await gateway.handle({
      method: 'POST',
      path: '/inspect/nested',
      body: { name: 'avatar', file: Buffer.from('nested') },
    });
    expect(nested.body).toMatchObject({ length: 6, backing: 6, everything: 'nested' });
    const typed = await gateway.handle({
      method: 'POST',
      path: '/inspect',
      body: new Uint16Array(secret.buffer, secret.byteOffset & ~1, 2),
    });
    expect((typed.body as Seen).backing).toBe(4);
    expect((typed.body as Seen).everything).not.toContain('hunter2');
  });

  it('decodes a peer call’s bytes to an exact-size buffer on the owner', async () => {
    const registry = new MemoryRegistry();
    nodes.push(await startNode('gw-a', { registry }), await startNode('gw-b', { registry }));
    const [a, b] = nodes as [FleetNode, FleetNode];
    await a.gateway.load(fixture('body-inspector'));
    await until(
      async () =>
        (await b.gateway.handle({ method: 'POST', path: '/inspect', body: new Uint8Array(1) }))
          .statusCode === 200,
      'body-inspector to be routed from gw-b',
    );
    // Pooled memory on the owner holds other bytes (another peer call's, another user's).
    Buffer.from(`password=${PASSWORD}`);
    const res = await b.gateway.handle({
      method: 'POST',
      path: '/inspect',
      body: new Uint8Array([7, 8, 9]),
    });
    expect(res.body).toMatchObject({ length: 3, backing: 3, everything: '\x07\x08\x09' });
  });
});
