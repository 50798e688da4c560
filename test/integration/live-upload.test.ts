import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import Fastify from 'fastify';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { afterEach, describe, expect, it } from 'vitest';
import { pluginGateway } from '../../src/adapters/express.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger } from '../helpers.js';
import { liveServer } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

const CHUNK = Buffer.alloc(64 * 1024, 1);
CHUNK[0] = 7;
CHUNK[CHUNK.length - 1] = 9;

/** `bytes` (a multiple of 64 KiB) of 64 KiB chunks, first byte 7 and last byte 9 of each. */
function* chunks(bytes: number): Generator<Buffer> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) yield CHUNK;
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** The client's own error while sending, when the server ended the upload. */
  sendError?: string;
}

/** PUTs `bytes` with backpressure (chunked, unless `headers` gives a length); resolves at the answer. */
function upload(
  url: string,
  path: string,
  bytes: number,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${url}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...headers },
    });
    let sendError: string | undefined;
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body, headers: res.headers, sendError }),
      );
      res.on('error', reject);
    });
    req.on('error', (error) => {
      sendError = error.message;
    });
    pipeline(Readable.from(chunks(bytes)), req).catch((error: Error) => {
      sendError = error.message;
      // Nothing answered and nothing more to send: the server cut the connection.
      setTimeout(() => resolve({ status: 0, body: '', headers: {}, sendError }), 500);
    });
  });
}

const MiB = 1024 * 1024;

/** The same upload from a child process; resolves with its status and body. */
function uploadFromChild(url: string, path: string, bytes: number): Promise<Answer> {
  const script = `
    import http from 'node:http';
    import { Readable } from 'node:stream';
    import { pipeline } from 'node:stream/promises';
    const [url, path, bytes] = process.argv.slice(1);
    const chunk = Buffer.alloc(65536, 1); chunk[0] = 7; chunk[65535] = 9;
    function* chunks() { for (let n = 0; n < Number(bytes); n += 65536) yield chunk; }
    const req = http.request('http://' + url + path, { method: 'PUT' });
    req.on('response', (res) => {
      let body = ''; res.setEncoding('utf8'); res.on('data', (c) => (body += c));
      res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
    });
    await pipeline(Readable.from(chunks()), req);
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, url, path, String(bytes)],
      { maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (error) return reject(error);
        resolve({ ...(JSON.parse(stdout) as { status: number; body: string }), headers: {} });
      },
    );
  });
}

describe('streamed request bodies (stream.request_body)', () => {
  it('hands a large upload to the plugin chunk by chunk through node:http, host memory bounded', async () => {
    gateway = await gatewayWith(['live-upload']);
    const live = await liveServer(gateway);
    server = live.server;
    const size = Number(process.env.PGW_UPLOAD_BYTES ?? 256 * MiB);
    // Warm: the live thread started, the heaps at their working size.
    expect(JSON.parse((await upload(live.url, '/upload', 16 * MiB)).body)).toMatchObject({
      bytes: 16 * MiB,
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    // The load from a process of its own: only the gateway's memory is in this one.
    const answer = await uploadFromChild(live.url, '/upload', size);
    clearInterval(sampler);
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as { bytes: number; chunks: number };
    expect(seen).toMatchObject({ bytes: size, first: 7, last: 9 });
    expect(seen.chunks).toBeGreaterThan(1);
    const growthMiB = (peak - before) / MiB;
    console.log(
      `upload of ${size / MiB} MiB through a worker plugin: host RSS grew ${growthMiB.toFixed(1)} MiB`,
    );
    expect(growthMiB).toBeLessThanOrEqual(64);
  });

  it('answers 413 at the limit: a declared length before reading, a chunked body once it passes', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-upload'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const declared = await upload(live.url, '/upload-small', 4 * MiB, {
      'content-length': String(4 * MiB),
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ error: { code: 'PGW_ERR_BODY_TOO_LARGE' } });
    expect(declared.headers.connection).toBe('close');
    const chunked = await upload(live.url, '/upload-small', 64 * MiB);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.message).toContain('stream.max_request_bytes');
    expect(chunked.headers.connection).toBe('close');
    // The plugin's read failed where the limit was passed.
    await expect
      .poll(() => log.lines.find((l) => l.msg === 'upload cut')?.plugin_fields)
      .toMatchObject({ message: expect.stringContaining('larger than 1048576') });
    // At the limit exactly: read whole.
    const atLimit = await upload(live.url, '/upload-small', MiB);
    expect(JSON.parse(atLimit.body)).toMatchObject({ bytes: MiB });
  });

  it('ends the connection after answering when the plugin does not read the upload', async () => {
    gateway = await gatewayWith(['live-upload']);
    const live = await liveServer(gateway);
    server = live.server;
    const ignored = await upload(live.url, '/ignore', 512 * MiB);
    expect(ignored.status).toBe(202);
    expect(ignored.headers.connection).toBe('close');
    // A handler that neither reads nor answers: its first_byte_timeout, then the connection ends.
    const never = await upload(live.url, '/never', 512 * MiB);
    expect(never.status).toBe(504);
    expect(never.headers.connection).toBe('close');
    expect(gateway.metrics('live-upload').active_connections).toBe(0);
  });

  it('ends the plugin’s read with an error when the client goes away mid-upload', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-upload'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const req = http.request(`http://${live.url}/upload-small`, { method: 'PUT' });
    req.on('error', () => {});
    req.write(Buffer.alloc(256 * 1024));
    await expect.poll(() => gateway!.metrics('live-upload').active_connections).toBe(1);
    req.destroy();
    await expect.poll(() => log.lines.some((l) => l.msg === 'upload cut')).toBe(true);
    await expect.poll(() => gateway!.metrics('live-upload').active_connections).toBe(0);
    // The plugin serves on.
    const next = await upload(live.url, '/upload-small', 64 * 1024);
    expect(JSON.parse(next.body)).toMatchObject({ bytes: 64 * 1024 });
  });

  it('keeps whole-body behaviour for endpoints without the declaration', async () => {
    gateway = await gatewayWith(['live-upload']);
    const res = await gateway.handle({
      method: 'POST',
      path: '/whole',
      headers: { 'content-type': 'application/json' },
      body: { a: 1 },
    });
    expect(res.body).toEqual({ got: { a: 1 } });
    // Through handle() with a whole body, a streaming endpoint reads it as one chunk.
    const direct = await gateway.handle({ method: 'PUT', path: '/upload', body: 'four' });
    const chunks: string[] = [];
    for await (const c of direct.body as AsyncIterable<string | Uint8Array>) chunks.push(String(c));
    expect(JSON.parse(chunks.join(''))).toMatchObject({ bytes: 4, chunks: 1 });
  });

  it('streams the upload through the Express middleware too', async () => {
    gateway = await gatewayWith(['live-upload']);
    const app = express();
    app.use('/plugins', pluginGateway(gateway));
    server = http.createServer(app);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `127.0.0.1:${(server.address() as AddressInfo).port}/plugins`;
    const answer = await upload(url, '/upload', 32 * MiB);
    expect(JSON.parse(answer.body)).toMatchObject({ bytes: 32 * MiB, first: 7, last: 9 });
    const tooLarge = await upload(url, '/upload-small', 8 * MiB);
    expect(tooLarge.status).toBe(413);
  });

  it('streams the upload through the Fastify plugin, whose other bodies are still read whole', async () => {
    gateway = await gatewayWith(['live-upload']);
    const app = Fastify();
    await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins', stopOnClose: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
    const url = `127.0.0.1:${(app.server.address() as AddressInfo).port}/plugins`;
    const answer = await upload(url, '/upload', 32 * MiB);
    expect(JSON.parse(answer.body)).toMatchObject({ bytes: 32 * MiB, first: 7, last: 9 });
    const tooLarge = await upload(url, '/upload-small', 8 * MiB);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.connection).toBe('close');
    const whole = await fetch(`http://${url}/whole`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ b: 2 }),
    });
    expect(await whole.json()).toEqual({ got: { b: 2 } });
    const poisoned = await fetch(`http://${url}/whole`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"__proto__":{"x":1}}',
    });
    expect(poisoned.status).toBe(400);
  });
});
