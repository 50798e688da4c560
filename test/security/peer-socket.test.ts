// Forwarded WebSockets (issue 18, the fleet) attacked: a stranger without the fleet's secret upgrading
// at the owner's peer socket, a replayed upgrade, a peer that sends a frame past the endpoint's size,
// and a malicious owner that answers one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createUpgradeListener } from '../../src/adapters/node.js';
import { MemoryRegistry } from '../../src/index.js';
import { PeerClient, RemoteRuntime } from '../../src/fleet/peer-client.js';
import { PEER_CALL_HEADER, PEER_SOCKET_PATH, peerHeaders } from '../../src/fleet/peer-protocol.js';
import type { LiveData } from '../../src/loader/runtime.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { closeServer, fixture } from '../helpers.js';

const SECRET = 'fleet-socket-secret-0123456789';
let nodes: FleetNode[] = [];
let fake: http.Server | undefined;
let client: PeerClient | undefined;
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await closeServer(fake);
  await client?.close();
  nodes = [];
  fake = client = undefined;
});

async function owner(): Promise<FleetNode> {
  const node = await startNode('gw-owner', { registry: new MemoryRegistry(), secret: SECRET });
  node.server.on('upgrade', createUpgradeListener(node.gateway));
  nodes.push(node);
  await node.gateway.load(fixture('live-room'));
  return node;
}

const envelope = () =>
  JSON.stringify({
    service: 'live-room',
    version: '1.0.0',
    instance: 'x',
    key: 'GET /rooms/{room}',
    timeoutMs: 5000,
    request: { id: `r-${Math.random()}`, method: 'GET', path: '/rooms/a', headers: {} },
  });

/** Upgrade headers for `body` (signed with `secret`, or unsigned). */
function upgradeHeaders(body: string, secret: string | undefined): Record<string, string> {
  const headers = peerHeaders('gw-x', 'gw-owner', body, secret);
  delete headers['content-type'];
  headers[PEER_CALL_HEADER] = Buffer.from(body).toString('base64url');
  return headers;
}

/** Opens the owner's peer socket; resolves with the socket, or the HTTP status it was refused. */
function open(node: FleetNode, headers: Record<string, string>): Promise<WebSocket | number> {
  const ws = new WebSocket(`${node.address.replace('http', 'ws')}${PEER_SOCKET_PATH}`, { headers });
  return new Promise((resolve) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    ws.once('error', () => resolve(0));
  });
}

describe('the peer socket, as a stranger on the network', () => {
  it('refuses 401 and opens no socket without a valid signature', async () => {
    const node = await owner();
    const body = envelope();
    expect(await open(node, upgradeHeaders(body, undefined))).toBe(401);
    expect(await open(node, upgradeHeaders(body, 'not-the-secret'))).toBe(401);
    // The envelope changed after signing: a forged room, user or role.
    const headers = upgradeHeaders(body, SECRET);
    headers[PEER_CALL_HEADER] = Buffer.from(body.replace('/rooms/a', '/rooms/b')).toString(
      'base64url',
    );
    expect(await open(node, headers)).toBe(401);
    expect(node.gateway.metrics('live-room').active_connections).toBe(0);
  });

  it('accepts a signed upgrade once: the same headers again are a replay (401)', async () => {
    const node = await owner();
    const headers = upgradeHeaders(envelope(), SECRET);
    const ws = await open(node, headers);
    expect(ws).toBeInstanceOf(WebSocket);
    expect(await open(node, headers)).toBe(401);
    (ws as WebSocket).terminate();
  });

  it('closes 1009 a peer that sends a message past the endpoint’s max_message_bytes', async () => {
    const node = await owner();
    const ws = (await open(node, upgradeHeaders(envelope(), SECRET))) as WebSocket;
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.send('x'.repeat(4097)); // live-room's /rooms/{room} takes 4096 bytes
    expect(await closed).toBe(1009);
  });
});

describe('a forwarded WebSocket, from a malicious owner', () => {
  it('closes the client 1009 when the owner sends a frame past the endpoint’s size', async () => {
    fake = http.createServer();
    const wss = new WebSocketServer({ server: fake });
    wss.on('connection', (ws) => ws.send('y'.repeat(10_000)));
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    const address = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    client = new PeerClient('gw-caller', SECRET);
    const runtime = new RemoteRuntime(client, address, 'live-room', '1.0.0', 'i', 'gw-owner');
    const sent: LiveData[] = [];
    const closed = new Promise<number>((resolve) => {
      runtime.live().open!(
        {
          send: (data) => sent.push(data),
          close: (code) => resolve(code),
          subscribe() {},
          unsubscribe() {},
          publish() {},
          handled() {},
          hold() {},
        },
        'GET /rooms/{room}',
        { id: 'r', method: 'GET', path: '/rooms/a', headers: {}, params: {}, query: {} },
        {
          max_message_bytes: 4096,
          max_buffered_bytes: 65536,
          max_connections: 1,
          idle_timeout: '60s',
        },
      );
    });
    expect(await closed).toBe(1009);
    expect(sent).toEqual([]);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
});
