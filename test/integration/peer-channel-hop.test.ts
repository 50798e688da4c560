// The owner's thread hop for the calls of a peer channel (decision 0350): the calls that arrive in one
// read cross to the plugin's thread in one message, the first of them included; a call alone still goes
// at once, alone. Real gateway, real channel socket, real threads.
import http from 'node:http';
import type { Socket } from 'node:net';
import { MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
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
  type OutFrame,
} from '../../src/fleet/peer-channel-frames.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

const SECRET = 'fleet-secret-0123456789';
let node: FleetNode | undefined;
let socket: Socket | undefined;
afterEach(async () => {
  socket?.destroy();
  await node?.close();
  node = undefined;
});

async function ownerChannel() {
  node = await startNode('gw-owner', {
    registry: new MemoryRegistry(),
    secret: SECRET,
    upgrades: true,
  });
  await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
  const headers = peerHeaders('gw-entry', 'gw-owner', CHANNEL_OPEN_ENVELOPE, SECRET);
  delete headers['content-type'];
  const opened = await new Promise<Socket>((resolve, reject) => {
    const req = http.request(`${node!.address}${PEER_PATH}/channel`, {
      method: 'GET',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL, ...headers },
    });
    req.on('upgrade', (_res, s) => resolve(s));
    req.on('response', () => reject(new Error('no upgrade')));
    req.on('error', reject);
    req.end();
  });
  socket = opened;
  const key = channelKey(SECRET, headers[PEER_SIGNATURE_HEADER]!);
  const answers = new Map<number, { response: { statusCode: number; body: { json: unknown } } }>();
  const reader = new FrameReader(key, FROM_OWNER, CHANNEL_ANSWER, 64 * 1024 * 1024);
  opened.on('data', (chunk: Buffer) =>
    reader.push(chunk, (id, text) => answers.set(id, JSON.parse(text))),
  );
  return { socket: opened, writer: new FrameWriter(key, FROM_CALLER), answers };
}

const call = (id: number): OutFrame => {
  const payload = JSON.stringify({
    service: 'profiles',
    version: '1.2.0',
    instance: 'x',
    key: 'GET /profiles/{id}',
    timeoutMs: 5000,
    request: { id: `r-${id}`, method: 'GET', path: `/profiles/${id}`, headers: {} },
  });
  return { id, payload, bytes: Buffer.byteLength(payload) };
};

/** Piscina task messages the owner posts to its threads while `work` runs (a batch is one). */
async function taskMessages(work: () => Promise<void>): Promise<number> {
  const original = MessagePort.prototype.postMessage;
  let messages = 0;
  MessagePort.prototype.postMessage = function (this: MessagePort, ...args) {
    if ((args[0] as { taskId?: unknown } | null)?.taskId !== undefined) messages++;
    return original.apply(this, args);
  };
  try {
    await work();
    return messages;
  } finally {
    MessagePort.prototype.postMessage = original;
  }
}

describe("the owner's thread hop for a channel's calls", () => {
  it('the calls of one read cross to the thread in one message, the first included, each answered', async () => {
    const ch = await ownerChannel();
    // The thread is up: the first call of a fresh instance would be its own.
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 100, call(100).payload));
    await until(async () => ch.answers.has(100), 'a first answer');
    const ids = [1, 2, 3, 4, 5, 6];
    const messages = await taskMessages(async () => {
      ch.socket.write(ch.writer.frames(CHANNEL_CALL, ids.map(call)));
      await until(async () => ids.every((id) => ch.answers.has(id)), 'six answers');
    });
    expect(messages).toBe(1);
    for (const id of ids) {
      expect(ch.answers.get(id)).toMatchObject({
        response: { statusCode: 200, body: { json: { id: String(id) } } },
      });
    }
  });

  it('a call alone in its read goes at once, one message each', async () => {
    const ch = await ownerChannel();
    ch.socket.write(ch.writer.frame(CHANNEL_CALL, 100, call(100).payload));
    await until(async () => ch.answers.has(100), 'a first answer');
    const messages = await taskMessages(async () => {
      for (const id of [1, 2, 3]) {
        ch.socket.write(ch.writer.frame(CHANNEL_CALL, id, call(id).payload));
        await until(async () => ch.answers.has(id), `answer ${id}`);
      }
    });
    expect(messages).toBe(3);
  });
});
