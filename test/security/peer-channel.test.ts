// Peer channels (version 2 of the peer protocol) against a stranger, a forger and a broken peer: the
// upgrade is authenticated like a call (signature, clock, replay); every frame is tagged under a key
// bound to that signature and to its place in the stream; frames are bounded in size, in time and in
// number in flight; a caller that does not read its answers is cut. The owner stays up throughout.
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_SIGNATURE_HEADER, peerHeaders } from '../../src/fleet/peer-protocol.js';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  CHANNEL_HEADER_BYTES,
  CHANNEL_MAX_IN_FLIGHT,
  CHANNEL_PROTOCOL,
  FROM_CALLER,
  FROM_OWNER,
  FrameWriter,
  channelKey,
} from '../../src/fleet/peer-channel-frames.js';
import { registerCompromisedOwner, startNode, type FleetNode } from '../fleet-node.js';
import { closeServer } from '../helpers.js';
import {
  CHANNEL_SECRET as SECRET,
  channelOpenHeaders as openHeaders,
  channelOwners,
  profilesCall as call,
} from '../peer-channel-setup.js';
import { until } from '../registry/contract.js';

let fake: http.Server | undefined;
afterEach(async () => {
  await closeServer(fake);
  fake = undefined;
});
// Registered last, so its sockets are destroyed and its gateways closed before the fake owner closes.
const channels = channelOwners();
const { open, channel } = channels;
const owner = (openTimeout = '1s') => channels.owner(openTimeout);

/** The owner still serves (once calls it was given are done): a call on a fresh channel, and HTTP. */
async function stillServes(node: FleetNode) {
  await until(async () => (await fetch(`${node.address}/profiles/1`)).status === 200, 'HTTP');
  const fresh = await channel(node);
  fresh.socket.write(fresh.writer.frame(CHANNEL_CALL, 1, call()));
  await until(async () => fresh.answers.has(1), 'an answer on a fresh channel');
  expect(JSON.parse(fresh.answers.get(1)!)).toMatchObject({ response: { statusCode: 200 } });
  const res = await fetch(`${node.address}/profiles/1`);
  expect(res.status).toBe(200);
}

describe('opening a peer channel', () => {
  it('is refused 401 to a stranger, a wrong secret and a replayed signature; never upgraded', async () => {
    const node = await owner();
    const stranger = await open(node, {});
    expect(stranger.status).toBe(401);
    expect(stranger.body).toContain('PGW_ERR_PEER_UNAUTHORIZED');
    expect((await open(node, openHeaders('another-secret-0123456789'))).status).toBe(401);
    // Signed over a call's body rather than the channel's envelope: refused too.
    const forCall = peerHeaders('gw-entry', 'gw-owner', call(), SECRET);
    expect((await open(node, forCall)).status).toBe(401);
    const headers = openHeaders();
    expect((await open(node, headers)).status).toBe(101);
    expect((await open(node, headers)).status).toBe(401);
    expect((await open(node, { ...openHeaders(), upgrade: 'websocket' })).status).not.toBe(101);
    await stillServes(node);
  });
});

describe('frames on an open channel', () => {
  it('a frame tagged with another key closes the channel unanswered', async () => {
    const node = await owner();
    const ch = await channel(node);
    const forger = new FrameWriter(channelKey(SECRET, 'f'.repeat(64)), FROM_CALLER);
    ch.socket.write(forger.frame(CHANNEL_CALL, 1, call()));
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    await stillServes(node);
  });

  it('a frame replayed on its channel, or reflected back, fails its tag and closes it', async () => {
    const node = await owner();
    const ch = await channel(node);
    const frame = ch.writer.frame(CHANNEL_CALL, 1, call());
    ch.socket.write(frame);
    await until(async () => ch.answers.has(1), 'the first answer');
    ch.socket.write(frame);
    await ch.closed;
    expect(ch.answers.size).toBe(1);
    // A frame written in the owner's direction, sent to the owner, does not verify either.
    const other = await channel(node);
    other.socket.write(new FrameWriter(other.key, FROM_OWNER).frame(CHANNEL_CALL, 1, call()));
    await other.closed;
    expect(other.answers.size).toBe(0);
  });

  it('a frame announcing more than the largest call is refused at its header, unread', async () => {
    const node = await owner();
    const ch = await channel(node);
    const header = Buffer.alloc(CHANNEL_HEADER_BYTES);
    header[0] = CHANNEL_CALL;
    header.writeUInt32BE(1, 1);
    header.writeUInt32BE(0xfffffff0, 5);
    ch.socket.write(header);
    await ch.closed;
    await stillServes(node);
  });

  it('a frame that never ends is cut at node.openTimeout', async () => {
    const node = await owner('1s');
    const ch = await channel(node);
    const frame = ch.writer.frame(CHANNEL_CALL, 1, call());
    ch.socket.write(frame.subarray(0, frame.length - 5));
    await ch.closed;
    expect(ch.answers.size).toBe(0);
    await stillServes(node);
  });

  it('an id already in flight, or more calls in flight than the bound, closes the channel', async () => {
    const node = await owner();
    // Written at once, read in one chunk: every call is in flight before the first is answered.
    const twice = await channel(node);
    twice.socket.write(
      Buffer.concat([7, 7].map((id) => twice.writer.frame(CHANNEL_CALL, id, call()))),
    );
    await twice.closed;
    expect(twice.answers.size).toBe(0);
    const many = await channel(node);
    const ids = Array.from({ length: CHANNEL_MAX_IN_FLIGHT + 1 }, (_, i) => i + 1);
    many.socket.write(Buffer.concat(ids.map((id) => many.writer.frame(CHANNEL_CALL, id, call()))));
    await many.closed;
    expect(many.answers.size).toBe(0);
    await stillServes(node);
  });

  it('a malformed envelope is answered unreachable (400), the channel kept', async () => {
    const node = await owner();
    const ch = await channel(node);
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 1, '{"service":1}'));
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 2, call()));
    await until(async () => ch.answers.size === 2, 'both answers');
    expect(JSON.parse(ch.answers.get(1)!)).toMatchObject({
      failure: 'unreachable',
      response: { statusCode: 400 },
    });
    expect(JSON.parse(ch.answers.get(2)!)).toMatchObject({ response: { statusCode: 200 } });
  });

  it('a caller that stops reading its answers stops its calls being read, then is cut', async () => {
    const node = await owner('1s');
    const ch = await channel(node);
    ch.socket.pause();
    const body = 'z'.repeat(900_000);
    const post = (id: number) =>
      ch.writer.frame(
        CHANNEL_CALL,
        id,
        JSON.stringify({
          service: 'profiles',
          version: '1.2.0',
          instance: 'x',
          key: 'POST /profiles',
          timeoutMs: 5000,
          request: {
            id: `p${id}`,
            method: 'POST',
            path: '/profiles',
            headers: {},
            body: { json: body },
          },
        }),
      );
    // ~36 MB of answers: far past what the sockets' buffers and the owner's bound hold.
    for (let id = 1; id <= 40; id++) ch.socket.write(post(id));
    await stillServes(node);
    await new Promise((r) => setTimeout(r, 3000));
    ch.socket.resume();
    await ch.closed;
    expect(ch.answers.size).toBeLessThan(40);
    await stillServes(node);
  }, 30_000);
});

describe('the caller against a forged or broken owner', () => {
  it('an answer to no call closes the channel: the call fails over at once, not at its deadline', async () => {
    const registry = new MemoryRegistry();
    // A breaker that stays closed: every call reaches the fake owner, none is refused by the entry.
    const circuitBreaker = { failureThreshold: 1000 };
    const entry = await startNode('gw-entry', { registry, secret: SECRET, circuitBreaker });
    channels.track(entry);
    let closedByEntry = false;
    // A fake owner: accepts the channel as a gateway would, then answers a call nobody made.
    fake = http.createServer((req, res) => res.writeHead(503).end());
    fake.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      channels.track(socket);
      const key = channelKey(SECRET, String(req.headers[PEER_SIGNATURE_HEADER]));
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${CHANNEL_PROTOCOL}\r\nconnection: upgrade\r\n\r\n`,
      );
      socket.on('data', () => {
        const answer = JSON.stringify({ response: { statusCode: 200, headers: {}, body: {} } });
        socket.write(new FrameWriter(key, FROM_OWNER).frame(CHANNEL_ANSWER, 999, answer));
      });
      // The server's sockets allow half-open: the entry's end is seen as 'end'.
      socket.on('end', () => (closedByEntry = true));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    const port = (fake.address() as { port: number }).port;
    await registerCompromisedOwner(registry, `http://127.0.0.1:${port}`, SECRET, {
      id: 'profiles@1.2.0#fake',
      nodeId: 'gw-owner',
    });
    await until(
      async () =>
        (await entry.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode !== 404,
      'the fake owner to be routed',
    );
    // Until the channel opens, calls go over HTTP (503 here); then one goes on the channel.
    await until(async () => {
      const started = Date.now();
      const res = await entry.gateway.handle({ method: 'GET', path: '/profiles/1' });
      return res.statusCode === 503 && closedByEntry && Date.now() - started < 4000;
    }, 'the forged answer to close the channel');
  });
});
