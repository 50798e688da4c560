// A client that breaks the WebSocket protocol, or closes it in order, and then holds its TCP connection
// open (it never ends its side): the gateway ends the connection after its close grace, as after a
// close of its own, so that the connection does not count against max_connections for ws's 30 s close
// timeout. A raw TCP client writes the frames, so nothing answers for it.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { liveServer } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

/** Upgrades a raw socket at `path` of `url`; resolves once the 101 came. */
async function rawClient(url: string, path: string): Promise<net.Socket> {
  const [host, port] = url.split(':');
  // allowHalfOpen: the gateway ending its side does not end this one.
  const socket = net.connect({ port: Number(port), host, allowHalfOpen: true });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.once('connect', r));
  socket.write(
    `GET ${path} HTTP/1.1\r\nhost: ${url}\r\norigin: https://app.example\r\nupgrade: websocket\r\n` +
      `connection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    let head = '';
    const onData = (b: Buffer) => {
      head += b.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      expect(head.startsWith('HTTP/1.1 101')).toBe(true);
      resolve();
    };
    socket.on('data', onData);
  });
  // Reads what the gateway sends, and never ends its own side.
  socket.resume();
  return socket;
}

describe('a WebSocket client that ends the protocol, then holds its connection open', () => {
  it('is ended after the close grace, and its place under max_connections given back', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const socket = await rawClient(live.url, '/rooms/a');
    await expect.poll(() => gateway!.metrics('live-room').active_connections).toBe(1);
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    // A masked binary frame announcing 1 MiB: past the endpoint's max_message_bytes (4096), 1009.
    const frame = Buffer.alloc(14);
    frame[0] = 0x82;
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(1n << 20n, 2);
    socket.write(frame);
    await ended; // the gateway ended its side at once; this client never ends its own
    // Given back at the grace (2 s), not at ws's close timeout (30 s).
    await expect
      .poll(() => gateway!.metrics('live-room').active_connections, { timeout: 10_000 })
      .toBe(0);
  });

  it('is ended after the close grace when it closed in order (1000), its place given back', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const socket = await rawClient(live.url, '/rooms/a');
    await expect.poll(() => gateway!.metrics('live-room').active_connections).toBe(1);
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    // A masked close frame, code 1000 (mask 0: the payload as it is).
    socket.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await ended; // the gateway answered the close and ended its side; this client never ends its own
    await expect
      .poll(() => gateway!.metrics('live-room').active_connections, { timeout: 10_000 })
      .toBe(0);
  });
});
