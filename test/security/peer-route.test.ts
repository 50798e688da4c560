// Items 2 and 8 of issue 14: the peer route exists only on a fleet member; a member without a secret is
// an explicit opt-in; signed calls have one exact format, a clock window and are accepted once; the
// owner derives params and query from the path it matches, never from the envelope.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import { InvalidArgumentError, MemoryRegistry, PluginGateway } from '../../src/index.js';
import { PEER_PATH, peerHeaders, sign } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture, gatewayWith, closeServer } from '../helpers.js';

const SECRET = 'fleet-secret-0123456789';
let nodes: FleetNode[] = [];
let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await closeServer(server);
  await gateway?.stop();
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  gateway = server = undefined;
});

/** A peer call for profiles@1.2.0 (docs/peer-protocol.md), with what a forger would like to set. */
const envelope = (request: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    service: 'profiles',
    version: '1.2.0',
    instance: 'x',
    key: 'GET /profiles/{id}',
    timeoutMs: 2000,
    ...extra,
    request: {
      id: `r-${Math.random()}`,
      method: 'GET',
      path: '/profiles/1',
      headers: {},
      userId: 'admin',
      context: { roles: ['admin'] },
      ...request,
    },
  });

/** The owner of profiles, in a fleet with a secret, reached over real HTTP on loopback. */
async function owner(): Promise<FleetNode> {
  const node = await startNode('gw-owner', { registry: new MemoryRegistry(), secret: SECRET });
  nodes.push(node);
  await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
  return node;
}

const post = (node: FleetNode, body: string, headers: Record<string, string>) =>
  fetch(node.address + PEER_PATH, { method: 'POST', headers, body });

const signed = (body: string, node = 'gw-entry', receiver = 'gw-owner') =>
  peerHeaders(node, receiver, body, SECRET);

describe('the peer route', () => {
  it('does not exist on a gateway outside a fleet: the path is routed like any other (404)', async () => {
    gateway = await gatewayWith(['profiles']);
    server = http.createServer(createRequestListener(gateway));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const body = envelope();
    const res = await fetch(base + PEER_PATH, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.veza.peer.v1+json',
        ...peerHeaders('x', 'y', body, undefined),
      },
      body,
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_NOT_FOUND' } });
    expect(
      (await gateway.handlePeer(body, peerHeaders('x', 'y', body, undefined), '127.0.0.1'))
        .statusCode,
    ).toBe(404);
  });

  it('needs a secret, or node.insecure said out loud, to join a fleet', () => {
    const node = { id: 'gw-1', address: 'http://127.0.0.1:1' };
    expect(() => new PluginGateway({ logger: false, node })).toThrow(InvalidArgumentError);
    expect(() => new PluginGateway({ logger: false, node })).toThrow(
      /node\.secret.*node\.insecure/s,
    );
    expect(
      () =>
        new PluginGateway({
          logger: false,
          node: { ...node, secret: SECRET, insecure: 'private-network' },
        }),
    ).toThrow(/node\.insecure/);
    expect(
      () =>
        new PluginGateway({
          logger: false,
          node: { ...node, insecure: 'everyone' as 'private-network' },
        }),
    ).toThrow(InvalidArgumentError);
  });

  it('refuses 401 an unsigned or forged envelope from a stranger on loopback (a proxy on the same machine)', async () => {
    const a = await owner();
    const body = envelope();
    const unsigned = await post(a, body, peerHeaders('gw-entry', 'gw-owner', body, undefined));
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: 'PGW_ERR_PEER_UNAUTHORIZED' } });
    const forged = await post(
      a,
      body,
      peerHeaders('gw-entry', 'gw-owner', body, 'not-the-fleet-secret-0000'),
    );
    expect(forged.status).toBe(401);
  });

  it('accepts a signed call once: a replay of the captured request is refused 401', async () => {
    const a = await owner();
    const body = envelope();
    const headers = signed(body);
    const first = await post(a, body, headers);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ response: { statusCode: 200 } });
    const replayed = await post(a, body, headers);
    expect(replayed.status).toBe(401);
    expect(await replayed.text()).toMatch(/replay/);
    // A fresh nonce is a new call.
    expect((await post(a, body, signed(body))).status).toBe(200);
  });

  it('refuses signatures not written exactly as 64 lower-case hex characters', async () => {
    const a = await owner();
    const body = envelope();
    const spellings: Record<string, (s: string) => string> = {
      'upper-case': (s) => s.toUpperCase(),
      'trailing junk': (s) => `${s}00`,
      'trailing text': (s) => `${s}; v=1`,
      truncated: (s) => s.slice(0, 63),
      'non-hex': (s) => `${s.slice(0, 63)}g`,
      'two signatures': (s) => `${s}, ${s}`,
    };
    for (const [name, spell] of Object.entries(spellings)) {
      // Each time a fresh call, correctly signed but for the signature's spelling.
      const headers = signed(body);
      headers['x-veza-signature'] = spell(headers['x-veza-signature']!);
      expect((await post(a, body, headers)).status, name).toBe(401);
    }
    // HTTP trims spaces around a header value; a server that hands them on is refused too.
    for (const spell of [
      (s: string) => `${s} `,
      (s: string) => `\t${s}`,
      (s: string) => `${s}\n`,
    ]) {
      const headers = signed(body);
      headers['x-veza-signature'] = spell(headers['x-veza-signature']!);
      expect((await a.gateway.handlePeer(body, headers, '127.0.0.1')).statusCode).toBe(401);
    }
    expect((await post(a, body, signed(body))).status).toBe(200);
  });

  it('refuses a call signed for another gateway of the fleet (no replay from one member to the next)', async () => {
    const a = await owner();
    const body = envelope();
    const forAnother = await post(a, body, signed(body, 'gw-entry', 'gw-other'));
    expect(forAnother.status).toBe(401);
    expect((await post(a, body, signed(body, 'gw-entry', 'gw-owner'))).status).toBe(200);
  });

  it('refuses a call outside the ±30 s window, and timestamps that are not plain digits', async () => {
    const a = await owner();
    const body = envelope();
    const at = (timestamp: string) => {
      const nonce = `n${Math.random().toString(36).slice(2, 12)}`;
      return {
        'content-type': 'application/vnd.veza.peer.v1+json',
        'x-veza-node': 'gw-entry',
        'x-veza-timestamp': timestamp,
        'x-veza-nonce': nonce,
        'x-veza-signature': sign(SECRET, timestamp, 'gw-entry', 'gw-owner', nonce, body),
      };
    };
    expect((await post(a, body, at(String(Date.now() - 31_000)))).status).toBe(401);
    expect((await post(a, body, at(String(Date.now() + 31_000)))).status).toBe(401);
    expect((await post(a, body, at(`${Date.now()}.0`))).status).toBe(401);
    expect((await post(a, body, at(` ${Date.now()}`))).status).toBe(401);
    expect((await post(a, body, at(String(Date.now())))).status).toBe(200);
  });

  it('derives params and query from the path it matches, never from the envelope', async () => {
    const a = await owner();
    const body = envelope(
      { path: '/profiles/1', params: { id: '999' }, query: { evil: 'yes' } },
      { search: 'x=1&x=2' },
    );
    const res = await post(a, body, signed(body));
    const answer = (await res.json()) as { response: { body: { json: Record<string, unknown> } } };
    expect(answer.response.body.json).toMatchObject({ id: '1', query: { x: ['1', '2'] } });
    expect(answer.response.body.json.query).not.toHaveProperty('evil');
  });

  it('serves only the route the key names, with that route own admission', async () => {
    const a = await owner();
    // The key says the open endpoint, the path leads to the admin one: not served.
    const sneaky = envelope({ path: '/profiles-admin' });
    const refused = (await (await post(a, sneaky, signed(sneaky))).json()) as object;
    expect(refused).toMatchObject({ failure: 'unreachable', response: { statusCode: 503 } });
    // A method other than the key's is a malformed call.
    const wrongMethod = envelope({ method: 'DELETE' });
    expect((await post(a, wrongMethod, signed(wrongMethod))).status).toBe(400);
    const withQuery = envelope({ path: '/profiles/1?x=1' });
    expect((await post(a, withQuery, signed(withQuery))).status).toBe(400);
  });
});
