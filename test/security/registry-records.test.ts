/**
 * Class D of issue 23, instance records: whoever can write to the fleet's etcd, without the fleet's
 * secret, cannot take over a route, receive users' requests, add routes, strip a rate limit, or crash a
 * gateway with a malformed record. Real etcd, real gateways serving on loopback, a raw etcd client as
 * the attacker.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PEER_PATH, peerHeaders } from '../../src/fleet/peer-protocol.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');
const secret = 'fleet-secret-0123456789';

describe.runIf(haveEtcd)('instance records read from etcd', () => {
  let etcd: EtcdServer;
  let raw: Etcd3;
  let attacker: http.Server;
  let attackerHits: http.IncomingHttpHeaders[] = [];
  let attackerAddress = '';
  const nodes: FleetNode[] = [];
  const registries: EtcdRegistry[] = [];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    raw = new Etcd3({ hosts: etcd.endpoint });
    attacker = http.createServer((req, res) => {
      attackerHits.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"owned":true}');
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    attackerAddress = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  }, 20_000);
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await Promise.all(registries.splice(0).map((r) => r.close()));
    attackerHits = [];
  });
  afterAll(async () => {
    raw?.close();
    await new Promise((r) => attacker?.close(r));
    await etcd?.destroy();
  });

  async function member(id: string, namespace: string, environment = 'default') {
    const registry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, environment });
    registries.push(registry);
    const node = await startNode(id, { registry, secret });
    nodes.push(node);
    return node;
  }

  const getVia = async (node: FleetNode, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(node.address + path, { headers, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  it('an unsealed record naming a newer version does not take the route, nor see users', async () => {
    const owner = await member('g1', 'takeover');
    const entry = await member('g2', 'takeover');
    await owner.gateway.load(fixture('profiles'), { config: { node: 'g1' } });
    await until(async () => (await getVia(entry, '/profiles/1')).status === 200, 'routing');
    const forged = {
      id: 'profiles@9.9.9#evil.0',
      service: 'profiles',
      version: '9.9.9',
      nodeId: 'evil',
      address: attackerAddress,
      endpoints: [
        { method: 'GET', path: '/profiles/{id}', auth: 'none', roles: [] },
        { method: 'GET', path: '/{page}', auth: 'none', roles: [] },
      ],
      status: 'active',
      metadata: {},
    };
    await raw.put('takeover/default/instances/profiles/evil').value(JSON.stringify(forged));
    // A plausible seal copied from the owner's own record does not fit other fields either.
    const ownerKeys = await raw.getAll().prefix('takeover/default/instances/profiles/').strings();
    const ownerRecord = JSON.parse(Object.values(ownerKeys).find((v) => v.includes('"g1"'))!);
    expect(ownerRecord.seal).toMatch(/^[0-9a-f]{64}$/);
    await raw
      .put('takeover/default/instances/profiles/evil2')
      .value(JSON.stringify({ ...forged, id: 'profiles@9.9.9#evil.1', seal: ownerRecord.seal }));
    // A new service with a catch-all page, to shadow the host's own pages.
    await raw
      .put('takeover/default/instances/shadow/x')
      .value(JSON.stringify({ ...forged, id: 'shadow@1.0.0#evil.0', service: 'shadow' }));
    await new Promise((r) => setTimeout(r, 500));

    for (let i = 0; i < 5; i++) {
      const res = await getVia(entry, `/profiles/${i}`, {
        authorization: 'Bearer user-token',
        cookie: 'sid=secret',
      });
      expect(res).toMatchObject({ status: 200, body: { node: 'g1' } });
    }
    expect((await getVia(entry, '/home')).status).toBe(404);
    expect(attackerHits).toEqual([]);
    expect(entry.gateway.metrics('profiles')).toBeDefined();
  });

  it('a record stripped of its rate limit, or sealed for another environment, is refused', async () => {
    const owner = await member('g1', 'strip');
    const entry = await member('g2', 'strip');
    const staging = await member('s1', 'strip', 'staging');
    await owner.gateway.load(fixture('limited'));
    await staging.gateway.load(fixture('echo'));
    await until(async () => (await getVia(entry, '/unlimited')).status === 200, 'routing');

    const all = await raw.getAll().prefix('strip/').strings();
    const [limitedKey, limitedValue] = Object.entries(all).find(([k]) =>
      k.startsWith('strip/default/instances/limited/'),
    )!;
    const stripped = JSON.parse(limitedValue);
    stripped.address = attackerAddress;
    for (const e of stripped.endpoints) delete e.rate_limit;
    await raw.put(limitedKey).value(JSON.stringify(stripped));
    // A staging member's record, seal and all, copied under the default environment.
    const [echoKey, echoValue] = Object.entries(all).find(([k]) =>
      k.startsWith('strip/staging/instances/echo/'),
    )!;
    await raw.put(echoKey.replace('/staging/', '/default/')).value(echoValue);
    await new Promise((r) => setTimeout(r, 500));

    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await getVia(entry, '/limited')).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect(attackerHits).toEqual([]);
    const echo = await fetch(`${entry.address}/whoami`);
    expect(echo.status).toBe(404);
  });

  it("the owner counts an endpoint's rate limit on peer calls too", async () => {
    const owner = await member('g1', 'owner-limit');
    await owner.gateway.load(fixture('limited'));
    // A member that forwards without counting (or a record it was given without the limit).
    const call = (i: number) =>
      JSON.stringify({
        service: 'limited',
        version: '1.0.0',
        instance: 'limited@1.0.0#g1.0',
        key: 'GET /limited',
        timeoutMs: 2000,
        request: { id: `r${i}`, method: 'GET', path: '/limited', headers: {}, userId: 'u1' },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const body = call(i);
      const res = await fetch(owner.address + PEER_PATH, {
        method: 'POST',
        headers: peerHeaders('g9', 'g1', body, secret),
        body,
      });
      expect(res.status).toBe(200);
      statuses.push(
        ((await res.json()) as { response: { statusCode: number } }).response.statusCode,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('malformed records never throw into the host, and the fleet keeps serving', async () => {
    const owner = await member('g1', 'junk');
    const entry = await member('g2', 'junk');
    await owner.gateway.load(fixture('profiles'), { config: { node: 'g1' } });
    await until(async () => (await getVia(entry, '/profiles/1')).status === 200, 'routing');
    const base = {
      id: 'profiles@1.0.0#junk.0',
      service: 'profiles',
      version: '1.0.0',
      nodeId: 'junk',
      address: 'http://127.0.0.1:1',
      endpoints: [],
      status: 'active',
      metadata: {},
    };
    const junk = [
      { ...base, address: 'not a url' },
      { ...base, version: 'x' },
      { ...base, endpoints: [{ method: 'GET', path: 'no-slash' }] },
      { ...base, endpoints: 'all' },
      { ...base, metadata: null },
      { ...base, service: { toString: 1 } },
      { ...base, id: 7 },
      null,
      'text',
      42,
      [],
    ];
    let i = 0;
    for (const value of junk) {
      await raw.put(`junk/default/instances/profiles/j${i++}`).value(JSON.stringify(value));
    }
    await raw.put('junk/default/instances/profiles/bytes').value(Buffer.from([0xff, 0, 0x7b]));
    await raw.delete().prefix('junk/default/instances/profiles/j');
    await new Promise((r) => setTimeout(r, 500));
    expect(await getVia(entry, '/profiles/3')).toMatchObject({ status: 200, body: { node: 'g1' } });
  });
});
