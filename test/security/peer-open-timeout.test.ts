// A slow stranger on the fleet's peer routes: it sends the head of a peer call, then its body (or a
// stream's call frame) a byte at a time, or not at all. The route answers 408 PGW_ERR_PEER_OPEN_TIMEOUT
// and closes the connection at `node.openTimeout`, instead of holding it until Node's requestTimeout.
import Fastify from 'fastify';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry, PluginGateway } from '../../src/index.js';
import {
  PEER_CONTENT_TYPE,
  PEER_PATH,
  PEER_STREAM_CONTENT_TYPE,
  PEER_STREAM_PATH,
} from '../../src/fleet/peer-protocol.js';
import { startNode, portOf, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';

let node: FleetNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

/** Sends `head`, then one byte of body, then nothing; resolves with all the server wrote once it closed. */
function stall(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(head);
    socket.write('\u0001');
  });
}

describe('the peer routes, held by a slow stranger', () => {
  it('answer 408 and close at node.openTimeout, for a whole call and a streamed one', async () => {
    node = await startNode('gw-owner', {
      registry: new MemoryRegistry(),
      secret: 'fleet-open-secret-0123456789',
      openTimeout: '300ms',
    });
    await node.gateway.load(fixture('live-stream'));
    const port = portOf(node.server);
    const head = (path: string, type: string) =>
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${type}\r\n` +
      'content-length: 1000\r\n\r\n';

    const whole = await stall(port, head(PEER_PATH, PEER_CONTENT_TYPE));
    expect(whole).toMatch(/^HTTP\/1\.1 408 /);
    expect(whole).toContain('PGW_ERR_PEER_OPEN_TIMEOUT');

    const streamed = await stall(port, head(PEER_STREAM_PATH, PEER_STREAM_CONTENT_TYPE));
    expect(streamed).toMatch(/^HTTP\/1\.1 408 /);
    expect(streamed).toContain('PGW_ERR_PEER_OPEN_TIMEOUT');
  });

  it('answer 408 the same way through the Fastify adapter', async () => {
    const gateway = new PluginGateway({
      logger: false,
      node: {
        id: 'gw-f',
        address: 'http://127.0.0.1:1/gw',
        secret: 'x'.repeat(16),
        openTimeout: '300ms',
      },
    });
    const app = Fastify();
    await app.register(fastifyPluginGateway, { gateway, prefix: '/gw' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      for (const [path, type] of [
        [PEER_PATH, PEER_CONTENT_TYPE],
        [PEER_STREAM_PATH, PEER_STREAM_CONTENT_TYPE],
      ]) {
        const answer = await stall(
          port,
          `POST /gw${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${type}\r\ncontent-length: 1000\r\n\r\n`,
        );
        expect(answer).toMatch(/^HTTP\/1\.1 408 /);
        expect(answer).toContain('PGW_ERR_PEER_OPEN_TIMEOUT');
      }
    } finally {
      await app.close();
    }
  });

  it('refuses an openTimeout that is not a duration of more than 0 and at most 60s', async () => {
    for (const openTimeout of ['soon', 0, '2m']) {
      await expect(
        startNode('gw-bad', {
          registry: new MemoryRegistry(),
          secret: 'x'.repeat(16),
          openTimeout: openTimeout as string,
        }),
      ).rejects.toMatchObject({ code: 'PGW_ERR_INVALID_ARGUMENT' });
    }
  });
});
