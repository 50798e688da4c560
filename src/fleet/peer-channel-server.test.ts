import net from 'node:net';
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

let server: net.Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
});

/** A channel served on a real loopback socket; the frames of what it answers, by call id. */
async function serveWith(serve: ChannelServing['serve']) {
  server = net.createServer((socket) =>
    servePeerChannel(socket, Buffer.alloc(0), { key: undefined, openTimeoutMs: 1000, serve }),
  );
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
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
  return { socket, answers, writer: new FrameWriter(undefined, FROM_CALLER) };
}

describe('servePeerChannel', () => {
  it('answers a call the gateway failed to serve unreachable, and serves the next', async () => {
    let calls = 0;
    const { socket, answers, writer } = await serveWith((envelope) =>
      ++calls === 1 ? Promise.reject(new Error('a bug')) : Promise.resolve(`{"echo":${envelope}}`),
    );
    socket.write(writer.frame(CHANNEL_CALL, 1, '1'));
    socket.write(writer.frame(CHANNEL_CALL, 2, '2'));
    await expect.poll(() => answers.size).toBe(2);
    expect(JSON.parse(answers.get(1)!)).toMatchObject({
      failure: 'unreachable',
      response: { statusCode: 500, body: { json: { error: { code: 'PGW_ERR_GATEWAY_ERROR' } } } },
    });
    expect(JSON.parse(answers.get(2)!)).toEqual({ echo: 2 });
    socket.destroy();
  });
});
