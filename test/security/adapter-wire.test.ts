// What a stranger on the network or a malicious plugin can try against each adapter (node:http, Fastify,
// Express): smuggled framing, a huge or endless body, and headers a plugin writes to split a response.
// The framing is the adapter's (or Node's parser's), never the client's or the plugin's.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';
import {
  expressMount,
  fastifyMount,
  nodeMount,
  type Mount,
  type Mounted,
} from '../adapters/mounts.js';

/** Writes `head` (then `chunks`, paced) on a raw connection; resolves with every byte until it closes. */
function raw(
  base: string,
  head: string,
  chunks: string[] = [],
  sent = { chunks: 0 },
): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, async () => {
      socket.write(head);
      for (const chunk of chunks) {
        if (socket.destroyed || socket.writableEnded) break;
        await new Promise((r) => setTimeout(r, 5));
        socket.write(chunk, () => {});
        sent.chunks++;
      }
    });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', () => resolve(received));
    socket.setTimeout(8000, () => reject(new Error(`the server kept the connection: ${received}`)));
  });
}

const mounts: [string, Mount][] = [
  ['node:http', nodeMount],
  ['Fastify', fastifyMount('/plugins')],
  ['Express (express.json() before)', expressMount('json-text')],
];

describe.each(mounts)('%s: the wire belongs to the adapter', (_name, mount) => {
  let gateway: PluginGateway;
  let host: Mounted | undefined;
  beforeAll(async () => {
    gateway = await gatewayWith(['raw-responder', 'body-inspector'], {
      circuitBreaker: { failureThreshold: 1000 },
    });
  });
  afterAll(() => gateway?.stop());
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });
  const seen = () => gateway.metrics('body-inspector')!.request_count;

  it('refuses a request framed twice (content-length and chunked): nothing reaches a plugin', async () => {
    host = await mount(gateway, { bodyLimit: 1000 });
    const before = seen();
    const wire = await raw(
      host.base,
      'POST /plugins/inspect HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-blob\r\n' +
        'content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n' +
        '0\r\n\r\nPOST /plugins/inspect HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nx',
    );
    expect(wire).toMatch(/^HTTP\/1\.1 400 /);
    expect(wire.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(seen()).toBe(before);
  });

  it('answers a huge content-length 413 before a byte of the body is sent, and closes', async () => {
    host = await mount(gateway, { bodyLimit: 1000 });
    const before = seen();
    const wire = await raw(
      host.base,
      'POST /plugins/inspect HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-blob\r\n' +
        'content-length: 10000000000\r\n\r\n',
    );
    expect(wire).toMatch(/^HTTP\/1\.1 413 /);
    expect(wire.toLowerCase()).toContain('connection: close');
    expect(wire).toContain('PGW_ERR_BODY_TOO_LARGE');
    expect(seen()).toBe(before);
  });

  it('stops reading a chunked body at the limit: 413 while the client is still sending', async () => {
    host = await mount(gateway, { bodyLimit: 1000 });
    const before = seen();
    const chunk = `200\r\n${'x'.repeat(0x200)}\r\n`;
    // 200 chunks of 512 bytes and never the last chunk: the answer must come from the limit.
    const sent = { chunks: 0 };
    const wire = await raw(
      host.base,
      'POST /plugins/inspect HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-blob\r\n' +
        'transfer-encoding: chunked\r\n\r\n',
      Array.from({ length: 200 }, () => chunk),
      sent,
    );
    expect(wire).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent.chunks).toBeLessThan(200);
    expect(seen()).toBe(before);
  });

  it('never writes a plugin’s CR/LF header values, invalid names or framing headers', async () => {
    host = await mount(gateway);
    const bad = await raw(
      host.base,
      'GET /plugins/raw/bad-headers HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    expect(bad).toMatch(/^HTTP\/1\.1 200 /);
    expect(bad.toLowerCase()).not.toContain('x-injected');
    expect(bad.toLowerCase()).toContain('x-fine: fine');
    expect(bad.toLowerCase()).toContain('x-cookies: ok');
    const smuggle = await raw(
      host.base,
      'GET /plugins/raw/smuggle HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    const end = smuggle.indexOf('\r\n\r\n');
    const head = smuggle.slice(0, end).toLowerCase();
    const body = smuggle.slice(end + 4);
    expect(head).not.toMatch(/transfer-encoding|keep-alive|upgrade|trailer|\r\nte:|x-smuggled/);
    expect(head).toContain('x-kept: yes');
    // The "second response" the plugin hid is the body, counted as such by the adapter's own length.
    expect(Number(/content-length: (\d+)/.exec(head)![1])).toBe(Buffer.byteLength(body));
    expect(body).toMatch(/^HTTP\/1\.1 200 OK\r\ncontent-length: 8/);
  });
});
