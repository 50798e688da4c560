// Forwarded WebSockets (issue 18, the fleet) attacked: a stranger without the fleet's secret upgrading
// at the owner's peer socket, a replayed upgrade, a peer that sends a frame past the endpoint's size,
// and a malicious owner that answers one.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
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
  await closeFake();
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

/** Opens a forwarded WebSocket to `address` as a caller gateway would: what its client gets. */
function forwardTo(address: string): { sent: LiveData[]; closed: Promise<number> } {
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
  return { sent, closed };
}

/** The raw owner's upgraded sockets: the test ends them (the HTTP server's close would wait). */
const rawSockets = new Set<Duplex>();
async function closeFake(): Promise<void> {
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
  await closeServer(fake);
  fake = undefined;
}

/**
 * An owner that accepts any upgrade, then writes raw WebSocket frames (unmasked, as a server's) on
 * the socket: what a compromised gateway of the fleet may send. It reads what it is sent and never
 * ends its side of the connection: not even when the caller ends its own.
 */
async function rawOwner(write: (socket: Duplex) => void): Promise<string> {
  fake = http.createServer();
  fake.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    rawSockets.add(socket);
    socket.on('error', () => {}).resume();
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
    write(socket);
  });
  await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
}

/** A server's frame: `fin`, `opcode`, `payload` (lengths up to 65535). */
function serverFrame(fin: boolean, opcode: number, payload: Buffer): Buffer {
  const head =
    payload.length < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, payload.length])
      : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

const closeFrame = (code: number) => {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return serverFrame(true, 0x8, payload);
};

describe('a forwarded WebSocket, from a malicious owner', () => {
  it('closes the client 1009 when the owner sends a frame past the endpoint’s size', async () => {
    fake = http.createServer();
    const wss = new WebSocketServer({ server: fake });
    wss.on('connection', (ws) => ws.send('y'.repeat(10_000)));
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    const { sent, closed } = forwardTo(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`);
    expect(await closed).toBe(1009);
    expect(sent).toEqual([]);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });

  it('never passes on a close code out of range or reserved: the client gets 1011', async () => {
    // 999 and 5000 are out of range; 1005, 1006 and 1015 are never sent on the wire; 4000 passes.
    for (const [code, expected] of [
      [999, 1011],
      [5000, 1011],
      [1005, 1011],
      [1006, 1011],
      [1015, 1011],
      [4000, 4000],
    ] as const) {
      const address = await rawOwner((socket) => socket.write(closeFrame(code)));
      const { closed } = forwardTo(address);
      expect([code, await closed]).toEqual([code, expected]);
      await closeFake();
      await client?.close();
    }
  });

  it('cuts 1009 a message that never ends: fragments past the endpoint’s size, or a frame claiming 1 TiB', async () => {
    let written = 0;
    let endlessEnded = false;
    const endless = await rawOwner((socket) => {
      socket.once('close', () => (endlessEnded = true));
      // A text message whose fragments never end (no FIN), 1000 bytes each, for as long as it is read.
      socket.write(serverFrame(false, 0x1, Buffer.alloc(1000, 0x61)));
      const more = () => {
        while (!socket.destroyed && socket.write(serverFrame(false, 0x0, Buffer.alloc(1000, 0x61))))
          written += 1000;
        if (!socket.destroyed) socket.once('drain', more);
      };
      more();
    });
    const a = forwardTo(endless);
    expect(await a.closed).toBe(1009);
    expect(a.sent).toEqual([]);
    // The hop is cut at once, not read (and thrown away) until the owner answers a close it never will.
    await expect.poll(() => endlessEnded).toBe(true);
    expect(written).toBeLessThan(16 * 1024 * 1024);
    await closeFake();
    await client?.close();

    const claim = await rawOwner((socket) => {
      const head = Buffer.alloc(10);
      head[0] = 0x82; // a binary frame, FIN
      head[1] = 127; // 64-bit length
      head.writeBigUInt64BE(1n << 40n, 2);
      socket.write(head);
      socket.write(Buffer.alloc(64 * 1024));
    });
    const b = forwardTo(claim);
    expect(await b.closed).toBe(1009);
    expect(b.sent).toEqual([]);
  });
});
