// Version 2 of the peer protocol: calls to another gateway travel on one long-lived channel per peer
// (an upgrade of the peer route), many at once; a peer that does not offer it is called over HTTP.
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_PATH } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

const SECRET = 'fleet-secret-0123456789';
let nodes: FleetNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

/** An owner of profiles and an entry gateway; counts what reaches the owner's server. */
async function pair(ownerOffersChannels: boolean, secret: string | undefined = SECRET) {
  const registry = new MemoryRegistry();
  const owner = await startNode('gw-owner', { registry, secret, upgrades: ownerOffersChannels });
  const entry = await startNode('gw-entry', { registry, secret });
  nodes.push(owner, entry);
  const seen = { peerRequests: 0, upgrades: 0, connections: 0 };
  owner.server.prependListener('request', (req: IncomingMessage) => {
    if (req.url === PEER_PATH) seen.peerRequests++;
  });
  owner.server.prependListener('connection', () => seen.connections++);
  if (ownerOffersChannels) owner.server.prependListener('upgrade', () => seen.upgrades++);
  await owner.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
  await until(
    async () =>
      (await entry.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode === 200,
    'profiles to be routed from the entry',
  );
  return { owner, entry, seen };
}

const get = (node: FleetNode, id: number) =>
  node.gateway.handle({ method: 'GET', path: `/profiles/${id}?n=${id}`, userId: `u${id}` });

describe('peer channels (version 2)', () => {
  it('carry the calls once open: one upgrade, no more HTTP requests, answers matched to their calls', async () => {
    const { entry, seen } = await pair(true);
    await until(async () => {
      await get(entry, 0);
      return seen.upgrades === 1 && (await get(entry, 0)).statusCode === 200;
    }, 'the channel to open');
    const before = seen.peerRequests;
    // More at once than one channel carries (128): the rest go as version 1 calls, all answered.
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => get(entry, i)));
    answers.forEach((res, i) =>
      expect(res).toMatchObject({
        statusCode: 200,
        body: { id: String(i), node: 'owner', userId: `u${i}`, query: { n: String(i) } },
      }),
    );
    const overHttp = seen.peerRequests - before;
    expect(overHttp).toBeLessThanOrEqual(300 - 128);
    // Sequential calls all take the channel.
    const quiet = seen.peerRequests;
    for (let i = 0; i < 50; i++) expect((await get(entry, i)).statusCode).toBe(200);
    expect(seen.peerRequests).toBe(quiet);
    expect(seen.upgrades).toBe(1);
    // Bytes and JSON bodies cross it intact.
    const created = await entry.gateway.handle({
      method: 'POST',
      path: '/profiles',
      body: { name: 'Ada', big: 'x'.repeat(200_000) },
    });
    expect(created).toMatchObject({ statusCode: 201, body: { body: { name: 'Ada' } } });
    expect((created.body as { body: { big: string } }).body.big).toHaveLength(200_000);
    expect(seen.peerRequests).toBe(quiet);
  });

  it('a call larger than a frame goes as version 1, judged there by the same body limit', async () => {
    const { entry, seen } = await pair(true);
    await until(async () => {
      await get(entry, 0);
      return seen.upgrades === 1;
    }, 'the channel to open');
    const before = seen.peerRequests;
    const big = 'y'.repeat(1024 * 1024 + 10);
    const res = await entry.gateway.handle({ method: 'POST', path: '/profiles', body: { big } });
    // The owner's listener refuses a body past its 1 MiB (413): an unreachable instance, as before.
    expect(res.statusCode).toBe(503);
    expect(seen.peerRequests).toBe(before + 1);
    expect((await get(entry, 1)).statusCode).toBe(200);
  });

  it('work without a secret (private network), unsigned', async () => {
    const { entry, seen } = await pair(true, undefined);
    await until(async () => {
      await get(entry, 0);
      return seen.upgrades === 1;
    }, 'the channel to open');
    const quiet = seen.peerRequests;
    for (let i = 0; i < 20; i++)
      expect((await get(entry, i)).body).toMatchObject({ id: String(i) });
    expect(seen.peerRequests).toBe(quiet);
  });

  it('a peer that does not offer channels is called over HTTP, and not asked again at each call', async () => {
    const { entry, seen } = await pair(false);
    for (let i = 0; i < 100; i++) expect((await get(entry, i)).statusCode).toBe(200);
    // The owner's server has no upgrade listener: Node closes the upgrade; the entry waits a minute
    // before it asks again, so 100 calls made one kept-alive connection and one refused upgrade.
    expect(seen.peerRequests).toBeGreaterThanOrEqual(100);
    expect(seen.connections).toBeLessThanOrEqual(3);
  });

  it('an entry that stops ends its channels: the owner’s server closes, not held half-open', async () => {
    const { owner, entry, seen } = await pair(true);
    await until(async () => {
      await get(entry, 0);
      return seen.upgrades === 1;
    }, 'the channel to open');
    await entry.gateway.stop();
    // Before the owner's gateway stops: resolves only once every connection, the upgraded one
    // included, has closed.
    await new Promise((resolve) => owner.server.close(resolve));
  });

  it('an owner that stops ends its channels; the entry answers 503, then routes elsewhere', async () => {
    const { owner, entry, seen } = await pair(true);
    await until(async () => {
      await get(entry, 0);
      return seen.upgrades === 1;
    }, 'the channel to open');
    await owner.gateway.stop();
    const res = await get(entry, 1);
    expect([503, 404]).toContain(res.statusCode);
  });
});
