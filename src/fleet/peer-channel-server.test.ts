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
import { servePeerChannel, type ChannelServing } from './peer-channel-server.js';
import { countWrites, loopback } from '../../test/loopback-socket.js';

let server: net.Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
});

/** A channel served on a real loopback socket; the frames of what it answers, by call id. */
async function serveWith(serve: ChannelServing['serve']) {
  const writes = { count: 0 };
  const opened = await loopback((socket) => {
    countWrites(socket, writes);
    servePeerChannel(socket, Buffer.alloc(0), { key: undefined, openTimeoutMs: 1000, serve });
  });
  server = opened.server;
  const socket = opened.client;
  const answers = new Map<number, string>();
  const reader = new FrameReader(undefined, FROM_OWNER, CHANNEL_ANSWER, 1 << 20);
  // The `101` head first, then frames.
  let head: Buffer | undefined = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    if (head !== undefined) {
      const held: Buffer = Buffer.concat([head, chunk]);
      const end = held.indexOf('\r\n\r\n');
      if (end < 0) return void (head = held);
      head = undefined;
      chunk = held.subarray(end + 4);
    }
    reader.push(chunk, (id, text) => answers.set(id, text));
  });
  return { socket, answers, writes, writer: new FrameWriter(undefined, FROM_CALLER) };
}

describe('servePeerChannel', () => {
  it('answers a call the gateway failed to serve (rejected, or thrown at once) unreachable, and serves the next', async () => {
    let calls = 0;
    const { socket, answers, writer } = await serveWith((envelope) =>
      ++calls === 1
        ? Promise.reject(new Error('a bug'))
        : calls === 2
          ? (() => {
              throw new Error('a bug before its first await');
            })()
          : Promise.resolve(`{"echo":${envelope}}`),
    );
    socket.write(writer.frame(CHANNEL_CALL, 1, '1'));
    socket.write(writer.frame(CHANNEL_CALL, 2, '2'));
    socket.write(writer.frame(CHANNEL_CALL, 3, '3'));
    await expect.poll(() => answers.size).toBe(3);
    expect(JSON.parse(answers.get(2)!)).toMatchObject({ failure: 'unreachable' });
    expect(JSON.parse(answers.get(1)!)).toMatchObject({
      failure: 'unreachable',
      response: { statusCode: 500, body: { json: { error: { code: 'PGW_ERR_GATEWAY_ERROR' } } } },
    });
    expect(JSON.parse(answers.get(3)!)).toEqual({ echo: 3 });
    socket.destroy();
  });

  it('answers made in one turn leave in one write; the last call in flight is answered in its own turn', async () => {
    const held = new Map<string, (answer: string) => void>();
    const { socket, answers, writes, writer } = await serveWith(
      (envelope) => new Promise((resolve) => held.set(envelope, resolve)),
    );
    socket.write(
      writer.frames(
        CHANNEL_CALL,
        [1, 2, 3].map((id) => ({ id, payload: `${id}`, bytes: 1 })),
      ),
    );
    await expect.poll(() => held.size).toBe(3);
    const head = writes.count; // the `101`
    // Two of three answered in one turn: they wait for the end of the turn, then leave together.
    held.get('1')!('{"a":1}');
    held.get('2')!('{"a":2}');
    const atTurnEnd = await new Promise<number>((r) => setImmediate(() => r(writes.count)));
    expect(atTurnEnd).toBe(head);
    await expect.poll(() => answers.size).toBe(2);
    expect(writes.count).toBe(head + 1);
    // The last one in flight: nothing else can join its batch, so it is written in the turn it is made.
    held.get('3')!('{"a":3}');
    const written = await new Promise<number>((r) => setImmediate(() => r(writes.count)));
    expect(written).toBe(head + 2);
    await expect.poll(() => answers.get(3)).toBe('{"a":3}');
    socket.destroy();
  });
});
