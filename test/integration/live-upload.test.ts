import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import express from 'express';
import Fastify from 'fastify';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { pluginGateway } from '../../src/adapters/express.js';
import { createRequestListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { liveServer } from '../live-clients.js';
import { MiB, upload, uploadFromChild } from '../live-uploads.js';

/**
 * Host RSS growth allowed for the 256 MiB upload, whatever its size (the ceiling this test had before).
 * Measured at load 12–13: Node 20 29–50 MiB; Node 24 under vitest 67–81 MiB (16 MiB for the same
 * upload outside vitest, unexplained). Issue 18's goal is 64.
 */
const UPLOAD_RSS_CEILING_MIB = 96;
/**
 * Upload chunks allocated on the main thread and not yet collected, at their peak. Measured: Node 20
 * 23–46 MiB (53–61 when each chunk was copied and the live thread had its default young
 * generation); Node 24 under vitest 73–78 MiB.
 */
const UPLOAD_ARRAY_BUFFERS_CEILING_MIB = 88;

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

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
    const before = process.memoryUsage();
    let peak = before.rss;
    let arrayBuffersPeak = before.arrayBuffers;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.rss);
      arrayBuffersPeak = Math.max(arrayBuffersPeak, now.arrayBuffers);
    }, 20);
    // The load from a process of its own: only the gateway's memory is in this one.
    const answer = await uploadFromChild(live.url, '/upload', size);
    clearInterval(sampler);
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as { bytes: number; chunks: number };
    expect(seen).toMatchObject({ bytes: size, first: 7, last: 9 });
    expect(seen.chunks).toBeGreaterThan(1);
    const growthMiB = (peak - before.rss) / MiB;
    const arrayBuffersMiB = (arrayBuffersPeak - before.arrayBuffers) / MiB;
    console.log(
      `upload of ${size / MiB} MiB through a worker plugin: host RSS grew ${growthMiB.toFixed(1)} MiB, ` +
        `the main thread's ArrayBuffers ${arrayBuffersMiB.toFixed(1)} MiB`,
    );
    // Chunks the live thread read and has not collected yet are in RSS (and, allocated by the HTTP
    // parser on the main thread, in its ArrayBuffers): the thread's young generation bounds them
    // (docs/decisions/0270). A body held whole would be at least the upload's size.
    expect(growthMiB).toBeLessThanOrEqual(UPLOAD_RSS_CEILING_MIB);
    expect(arrayBuffersMiB).toBeLessThanOrEqual(UPLOAD_ARRAY_BUFFERS_CEILING_MIB);
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

describe('an endpoint that stops streaming its body in a swap', () => {
  const root = path.resolve(import.meta.dirname, '..', '.swap-fixtures', `upload-${process.pid}`);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  /** Plugin `turncoat`: PUT /up reads its body as a stream in 1.0.0, whole in 2.0.0. */
  const version = (v: '1.0.0' | '2.0.0') => {
    const dir = path.join(root, v);
    mkdirSync(dir, { recursive: true });
    const stream = v === '1.0.0' ? '\n    stream:\n      request_body: true' : '';
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      `name: turncoat\nversion: ${v}\nendpoints:\n  - path: /up\n    method: PUT${stream}\n`,
    );
    const handler =
      v === '1.0.0'
        ? `async (req) => { let n = 0; for await (const c of req.body) n += c.byteLength; return { statusCode: 200, body: { version: '1.0.0', bytes: n } }; }`
        : `(req) => ({ statusCode: 200, body: { version: '2.0.0', bytes: req.body.length } })`;
    writeFileSync(
      path.join(dir, 'index.js'),
      `import { definePlugin } from '@veza/plugin-gateway/sdk';\nexport default definePlugin({ routes: { 'PUT /up': ${handler} } });\n`,
    );
    return dir;
  };

  it('answers 503 with retry-after when the swap lands between the adapter’s look and the request, then serves the retry whole', async () => {
    gateway = await gatewayWith([]);
    await gateway.load(version('1.0.0'));
    const g = gateway;
    let swapFirst = true;
    // The node adapter asks whether the body streams, then hands the request over; the swap lands between.
    const listener = createRequestListener({
      streamsRequestBody: (method, p) => g.streamsRequestBody(method, p),
      async handle(request) {
        if (swapFirst) {
          swapFirst = false;
          await g.swap('turncoat', version('2.0.0'));
        }
        return g.handle(request);
      },
    });
    server = http.createServer(listener);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const raced = await upload(url, '/up', 64 * 1024);
    expect(raced.status).toBe(503);
    expect(raced.headers['retry-after']).toBe('0');
    expect(JSON.parse(raced.body).error.code).toBe('PGW_ERR_PLUGIN_UNAVAILABLE');
    const again = await upload(url, '/up', 64 * 1024, { 'content-type': 'text/plain' });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toEqual({ version: '2.0.0', bytes: 64 * 1024 });
    // A caller of handle() that passes a stream to a whole-body endpoint gets the same answer.
    const direct = await g.handle({
      method: 'PUT',
      path: '/up',
      body: Readable.from([Buffer.from('abc')]),
    });
    expect(direct.statusCode).toBe(503);
  });
});
