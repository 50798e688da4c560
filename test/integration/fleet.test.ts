import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_PATH } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture, statusOf } from '../helpers.js';
import { until } from '../registry/contract.js';

let nodes: FleetNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

async function fleet(count: number, options: Parameters<typeof startNode>[1] = {}) {
  const registry = new MemoryRegistry();
  for (let i = 0; i < count; i++) {
    nodes.push(await startNode(`gw-${String.fromCharCode(97 + i)}`, { registry, ...options }));
  }
  return { registry, nodes };
}

/** A peer call's body for `GET /profiles/1` on profiles@1.2.0 (docs/peer-protocol.md). */
const peerCall = (id: string) =>
  JSON.stringify({
    service: 'profiles',
    version: '1.2.0',
    instance: 'x',
    key: 'GET /profiles/{id}',
    timeoutMs: 1000,
    request: { id, method: 'GET', path: '/profiles/1', headers: {} },
  });

const routed = (node: FleetNode, path: string) =>
  until(
    async () => (await node.gateway.handle({ method: 'GET', path })).statusCode !== 404,
    `${path} to be routed`,
  );

describe('remote instances (two gateways, one registry, HTTP between them)', () => {
  it('forwards a request for a plugin only another gateway runs, body and caller intact', async () => {
    const [a, b] = (await fleet(2)).nodes as [FleetNode, FleetNode];
    await a.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await routed(b, '/profiles/1');
    const res = await b.gateway.handle({
      method: 'GET',
      path: '/profiles/7?x=1&x=2',
      userId: 'u9',
    });
    expect(res).toMatchObject({
      statusCode: 200,
      body: { id: '7', node: 'a', userId: 'u9', query: { x: ['1', '2'] } },
    });
    const created = await b.gateway.handle({
      method: 'POST',
      path: '/profiles',
      body: { name: 'Ada', avatar: Buffer.from([1, 2, 3]) },
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({ node: 'a', body: { name: 'Ada' } });
    // Served by a: the probe that waited for the route, then these two; b saw them as forwarded.
    expect(a.gateway.metrics('profiles').request_count).toBe(3);
    expect(b.gateway.metrics('profiles')).toMatchObject({
      request_count: 3,
      error_count: 0,
      threads: 0,
      instances: [{ id: expect.stringContaining('profiles@1.2.0#gw-a'), breaker: 'closed' }],
    });
    expect(b.gateway.get('profiles')).toBeUndefined();
  });

  it('answers the owner’s deadline as a 504, and a gone owner as a 503 at once, then stops routing', async () => {
    const {
      registry,
      nodes: [a, b],
    } = await fleet(2);
    await a!.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await routed(b!, '/profiles/1');
    const slow = await b!.gateway.handle({ method: 'GET', path: '/profiles-slow' });
    expect(slow.statusCode).toBe(504);
    // The owner's server goes away without deregistering (what a crash looks like until the TTL).
    a!.server.closeAllConnections();
    await new Promise((r) => a!.server.close(r));
    const started = Date.now();
    const gone = await b!.gateway.handle({ method: 'GET', path: '/profiles/1' });
    expect(gone.statusCode).toBe(503);
    expect((gone.body as { error: { code: string } }).error.code).toBe('PGW_ERR_PEER_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(2000);
    for (const r of await registry.list('profiles')) await registry.deregister(r.id);
    await until(
      async () =>
        (await b!.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode === 404,
      'the route to go',
    );
    nodes = [b!];
    await a!.gateway.stop();
  });

  it('runs a local plugin locally even when another gateway runs it too', async () => {
    const [a, b] = (await fleet(2)).nodes as [FleetNode, FleetNode];
    await a.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await routed(b, '/profiles/1');
    await b.gateway.load(fixture('profiles'), { config: { node: 'b' } });
    expect((await b.gateway.handle({ method: 'GET', path: '/profiles/1' })).body).toMatchObject({
      node: 'b',
    });
    await b.gateway.unload('profiles');
    expect((await b.gateway.handle({ method: 'GET', path: '/profiles/1' })).body).toMatchObject({
      node: 'a',
    });
  });

  it('starts a dependant when its dependency appears on another gateway, and calls it there', async () => {
    const [a, b] = (await fleet(2)).nodes as [FleetNode, FleetNode];
    await b.gateway.load(fixture('recs'));
    expect(b.gateway.get('recs')?.status).toBe('loading');
    const active = statusOf(b.gateway, 'recs', 'active');
    await a.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await active;
    const res = await b.gateway.handle({ method: 'GET', path: '/recs/3', userId: 5 });
    expect(res.body).toMatchObject({
      profile: { statusCode: 200, body: { id: '3', node: 'a', userId: 5, caller: 'recs' } },
    });
  });

  it('refuses peer calls whose signature does not match, and unsigned ones from public addresses', async () => {
    const [a, b] = (await fleet(2, { secret: 'fleet-secret-0123456789' })).nodes as [
      FleetNode,
      FleetNode,
    ];
    await a.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await routed(b, '/profiles/1');
    expect((await b.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode).toBe(200);
    const call = peerCall('r1');
    const forged = await fetch(a.address + PEER_PATH, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.veza.peer.v1+json',
        'x-veza-node': 'mallory',
        'x-veza-timestamp': String(Date.now()),
        'x-veza-signature': 'ab'.repeat(32),
      },
      body: call,
    });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'PGW_ERR_PEER_UNAUTHORIZED' } });
    const unsigned = await b.gateway.handlePeer(
      call,
      { 'x-veza-node': 'n', 'x-veza-timestamp': String(Date.now()) },
      '203.0.113.9',
    );
    expect(unsigned.statusCode).toBe(401);
  });

  it('accepts unsigned peer calls from loopback only when no secret is set, and never forwards them again', async () => {
    const [a, b] = (await fleet(2)).nodes as [FleetNode, FleetNode];
    await a.gateway.load(fixture('profiles'), { config: { node: 'a' } });
    await routed(b, '/profiles/1');
    const call = peerCall('r2');
    const headers = { 'x-veza-node': 'gw-z', 'x-veza-timestamp': String(Date.now()) };
    // b knows a runs profiles, but a peer call is served by local instances only: no second hop.
    const atB = JSON.parse((await b.gateway.handlePeer(call, headers, '127.0.0.1')).body);
    expect(atB).toMatchObject({ failure: 'unreachable', response: { statusCode: 503 } });
    const atA = JSON.parse((await a.gateway.handlePeer(call, headers, '::ffff:127.0.0.1')).body);
    expect(atA).toMatchObject({ response: { statusCode: 200, body: { json: { node: 'a' } } } });
    expect((await a.gateway.handlePeer(call, headers, '198.51.100.7')).statusCode).toBe(401);
  });
});
