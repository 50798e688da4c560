// Issue 12: any method, path, headers and body sent over a real socket to the node listener → an HTTP
// answer, and the server stays up.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { fuzzSettings } from './fuzz-settings.js';

let gateway: PluginGateway;
let server: http.Server;
let port: number;

beforeAll(async () => {
  gateway = await gatewayWith(['steady', 'echo', 'faulty']);
  server = http.createServer(createRequestListener(gateway, { prefix: '/api', bodyLimit: 4096 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await closeServer(server);
  await gateway?.stop();
});

/** Sends raw bytes and reads until the server closes or `ms` passes; resolves with what came back. */
function exchange(bytes: Buffer, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    // No half-close: node:http (httpAllowHalfOpen false) ends the socket on the client's FIN before
    // an async handler answers — the server's behaviour, not the listener's.
    socket.write(bytes);
  });
}

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
// CONNECT never reaches a request listener: node:http closes it unless the host listens to 'connect'.
const method = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE'),
  token.filter((m) => m.toUpperCase() !== 'CONNECT'),
);
const segment = fc.oneof(
  fc.constantFrom(
    'api',
    'steady',
    'echo',
    'faulty',
    'ok',
    'slow',
    '.veza',
    'peer',
    'v1',
    '..',
    '.',
    '',
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.stringMatching(/^[\x21-\x7e]{0,12}$/),
);
const path = fc.oneof(
  fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`),
  fc
    .tuple(fc.array(segment, { maxLength: 4 }), fc.string({ maxLength: 20 }))
    .map(([s, q]) => `/api/${s.join('/')}?${encodeURIComponent(q)}&a=1&a=2`),
  fc.constantFrom('*', '/api/steady/12', '/api/echo/ada', '/api/.veza/peer/v1', '//api//steady/1'),
);
const headerValue = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  fc.constantFrom(
    'application/json',
    'text/plain',
    'application/octet-stream',
    'chunked',
    '-1',
    '1e9',
  ),
);
const headers = fc.dictionary(
  fc.oneof(
    token,
    fc.constantFrom(
      'content-type',
      'x-request-id',
      'x-forwarded-for',
      'transfer-encoding',
      'expect',
      'authorization',
      'x-veza-node',
      'x-veza-signature',
      'host',
      'connection',
    ),
  ),
  headerValue,
  { maxKeys: 8 },
);
const body = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.json().map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.alloc(5000, 'x')),
);
/** Occasionally raw garbage instead of a request line. */
const garbage = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b));

function requestBytes(m: string, p: string, h: Record<string, string>, b: Buffer): Buffer {
  const lines = [`${m} ${p} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of Object.entries(h)) {
    // Framing headers are left to the sender, except a wrong content-length or chunked, sometimes.
    if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'connection') continue;
    lines.push(`${name}: ${value}`);
  }
  const chunked = (h['transfer-encoding'] ?? '').toLowerCase() === 'chunked';
  if (!chunked) lines.push(`content-length: ${b.length}`);
  const framed = chunked
    ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')])
    : b;
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), framed]);
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) /;

describe('fuzz: the node listener over a real socket', () => {
  it('any method, path, headers and body: an HTTP answer, never a hang or a dropped connection', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          {
            weight: 9,
            arbitrary: fc.tuple(method, path, headers, body).map((t) => requestBytes(...t)),
          },
          { weight: 1, arbitrary: garbage },
        ),
        async (bytes) => {
          const answer = await exchange(bytes);
          const status = STATUS_LINE.exec(answer)?.[1];
          expect(
            status,
            `no HTTP answer to ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`,
          ).toBeDefined();
          statuses.set(Number(status), (statuses.get(Number(status)) ?? 0) + 1);
          expect(Number(status)).not.toBe(500);
        },
      ),
      fuzzSettings('node listener', 300),
    );
    console.log(`[fuzz] node listener statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    // The server is up and serves as before.
    const after = await exchange(requestBytes('GET', '/api/steady/21', {}, Buffer.alloc(0)));
    expect(after).toMatch(/^HTTP\/1\.1 200 /);
    expect(after).toContain('{"n":42}');
    expect(gateway.list().every((p) => p.status === 'active')).toBe(true);
  });
});
