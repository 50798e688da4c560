/**
 * A real TCP connection over loopback for unit tests of what runs on a socket
 * (src/fleet/peer-channel-client.test.ts, peer-channel-server.test.ts): one side played by the test.
 */
import net from 'node:net';

/**
 * A server on a free loopback port that hands each socket it accepts to `accept`, and a client socket
 * connected to it. The test closes the server (and the sockets it keeps).
 */
export async function loopback(
  accept: (socket: net.Socket) => void,
): Promise<{ server: net.Server; client: net.Socket }> {
  const server = net.createServer(accept);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  return { server, client };
}

/** Counts the calls of `socket.write` from now on into `writes`: a batch written whole is one. */
export function countWrites(
  socket: net.Socket,
  writes: { count: number } = { count: 0 },
): { count: number } {
  const write = socket.write.bind(socket) as (chunk: Buffer | string) => boolean;
  socket.write = ((chunk: Buffer | string) => (writes.count++, write(chunk))) as never;
  return writes;
}
