// The owner's "a frame begun must end within node.openTimeout" bound measures the frame in progress: a
// caller whose reads never end on a frame boundary (a busy channel) is not cut while each frame ends
// fast, and a frame that never ends is still cut (test/security/peer-channel.test.ts).
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_PATH, PEER_SIGNATURE_HEADER, peerHeaders } from '../../src/fleet/peer-protocol.js';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  CHANNEL_OPEN_ENVELOPE,
  CHANNEL_PROTOCOL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
  channelKey,
} from '../../src/fleet/peer-channel-frames.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';

const SECRET = 'fleet-secret-0123456789';
let nodes: FleetNode[] = [];
let sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets = [];
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

const call = () =>
  JSON.stringify({
    service: 'profiles',
    version: '1.2.0',
    instance: 'x',
    key: 'GET /profiles/{id}',
    timeoutMs: 5000,
    request: { id: `r-${Math.random()}`, method: 'GET', path: '/profiles/1', headers: {} },
  });

it('a busy channel whose every read ends mid-frame is not cut while each frame ends fast; a frame that never ends is', async () => {
  const node = await startNode('gw-owner', {
    registry: new MemoryRegistry(),
    secret: SECRET,
    upgrades: true,
    openTimeout: '1s',
  });
  nodes.push(node);
  await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
  const headers = peerHeaders('gw-entry', 'gw-owner', CHANNEL_OPEN_ENVELOPE, SECRET);
  delete headers['content-type'];
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = http.request(`${node.address}${PEER_PATH}/channel`, {
      method: 'GET',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL, ...headers },
    });
    req.on('upgrade', (_res, s) => resolve(s));
    req.on('response', (res) => reject(new Error(`refused ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  sockets.push(socket);
  socket.setNoDelay(true);
  const key = channelKey(SECRET, headers[PEER_SIGNATURE_HEADER]!);
  const writer = new FrameWriter(key, FROM_CALLER);
  const reader = new FrameReader(key, FROM_OWNER, CHANNEL_ANSWER, 64 * 1024 * 1024);
  const answers = new Set<number>();
  let closedAt = 0;
  socket.on('data', (c: Buffer) => reader.push(c, (id) => answers.add(id)));
  socket.on('error', () => {});
  socket.on('close', () => (closedAt = Date.now()));
  const started = Date.now();
  // Every 150 ms: the rest of the previous frame and the first half of the next (each frame is whole
  // within 150 ms; the reads never end on a frame boundary) — for 2.5 s, openTimeout being 1 s.
  const pending = writer.frame(CHANNEL_CALL, 1, call());
  socket.write(pending.subarray(0, 20));
  let rest = pending.subarray(20);
  for (let id = 2; id <= 17; id++) {
    await new Promise((r) => setTimeout(r, 150));
    if (socket.destroyed) break;
    const next = writer.frame(CHANNEL_CALL, id, call());
    socket.write(Buffer.concat([rest, next.subarray(0, 20)]));
    rest = next.subarray(20);
  }
  if (!socket.destroyed) socket.write(rest);
  await new Promise((r) => setTimeout(r, 300));
  expect(closedAt === 0 ? 'open' : `cut after ${closedAt - started} ms`).toBe('open');
  expect(answers.size).toBe(17);
  // The next frame begun and never ended is still cut, however busy the channel was before it.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(writer.frame(CHANNEL_CALL, 18, call()).subarray(0, 20));
  await closed;
  expect(answers.size).toBe(17);
}, 20_000);
