import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
} from './peer-channel-frames.js';
import { PeerChannel } from './peer-channel-client.js';
import { countWrites, loopback } from '../../test/loopback-socket.js';

let server: net.Server | undefined;
let channel: PeerChannel | undefined;
afterEach(() => {
  channel?.close();
  server?.close();
  server = channel = undefined;
});

/** A caller's channel on a real loopback socket to an owner played by the test. */
async function open() {
  const calls: number[] = [];
  const owner = {
    socket: undefined as net.Socket | undefined,
    writer: new FrameWriter(undefined, FROM_OWNER),
  };
  const opened = await loopback((socket) => {
    owner.socket = socket;
    const reader = new FrameReader(undefined, FROM_CALLER, CHANNEL_CALL, 1 << 20);
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (id) => calls.push(id)));
  });
  server = opened.server;
  const socket = opened.client;
  const writes = countWrites(socket);
  channel = new PeerChannel(socket, Buffer.alloc(0), undefined, 1 << 20);
  await expect.poll(() => owner.socket).toBeDefined();
  return { channel, owner: owner as { socket: net.Socket; writer: FrameWriter }, calls, writes };
}

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));
const answer = (ids: number[]) =>
  ids.map((id) => {
    const payload = `{"a":${id}}`;
    return { id, payload, bytes: Buffer.byteLength(payload) };
  });

describe('PeerChannel (the caller)', () => {
  it('a call alone in flight is written at once; one made while others are in flight waits for its turn', async () => {
    const { channel, owner, calls, writes } = await open();
    const first = channel.call('{}', Date.now() + 5000);
    expect(writes.count).toBe(1);
    const second = channel.call('{}', Date.now() + 5000);
    const third = channel.call('{}', Date.now() + 5000);
    expect(writes.count).toBe(1);
    await turnEnd();
    expect(writes.count).toBe(2); // the second and third, together
    await expect.poll(() => calls.length).toBe(3);
    owner.socket.write(owner.writer.frames(CHANNEL_ANSWER, answer(calls)));
    expect(await Promise.all([first, second, third])).toEqual(['{"a":1}', '{"a":2}', '{"a":3}']);
  });

  it('the next calls of callers answered by one read leave together, not the first alone', async () => {
    const { channel, owner, calls, writes } = await open();
    const callers = [1, 2, 3].map(() => channel.call('{}', Date.now() + 5000));
    await expect.poll(() => calls.length).toBe(3);
    const before = writes.count;
    // Each caller, answered, calls again at once: all three answers arrive in one read.
    const next = callers.map((p) => p.then(() => channel.call('{}', Date.now() + 5000)));
    owner.socket.write(owner.writer.frames(CHANNEL_ANSWER, answer(calls)));
    await expect.poll(() => calls.length).toBe(6);
    expect(writes.count).toBe(before + 1);
    owner.socket.write(owner.writer.frames(CHANNEL_ANSWER, answer(calls.slice(3))));
    expect(await Promise.all(next)).toEqual(['{"a":4}', '{"a":5}', '{"a":6}']);
  });
});
