import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, fixture, gatewayWith, memoryLogger } from '../helpers.js';
import { liveServer, parseSse, producedAt, producedWhileUnread } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

describe('streamed responses and Server-Sent Events through the node:http adapter', () => {
  it('streams SSE frames, resumes after Last-Event-ID, and writes the request line when it ends', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-stream'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const res = await fetch(`http://${live.url}/ticks`, { headers: { 'last-event-id': '5' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(parseSse(await res.text())).toEqual([
      { id: '6', event: 'tick', data: '{"n":6}' },
      { id: '7', event: 'tick', data: '{"n":7}' },
      { id: '8', event: 'tick', data: '{"n":8}' },
      { data: 'two\nlines' },
    ]);
    await expect
      .poll(() => log.lines.find((l) => l.path === '/ticks' && l.status_code === 200))
      .toBeDefined();
    expect(gateway.metrics('live-stream').request_count).toBe(1);
  });

  it('pauses the plugin while the client does not read: what it produced stays bounded', async () => {
    gateway = await gatewayWith(['live-stream']);
    const live = await liveServer(gateway);
    server = live.server;
    const { produced: last, req } = await producedWhileUnread(
      `http://${live.url}/endless`,
      producedAt(`http://${live.url}`),
    );
    // An endless producer, stopped by credit alone: at most the window and what the sockets hold.
    expect(last).toBeGreaterThan(0);
    expect(last * 16 * 1024).toBeLessThan(64 * 1024 * 1024);
    expect(gateway.metrics('live-stream').active_connections).toBeGreaterThanOrEqual(1);
    req.destroy();
    await expect.poll(() => gateway!.metrics('live-stream').active_connections).toBe(0);
  });

  it('answers 504 past first_byte_timeout, and aborts a stream silent past idle_timeout', async () => {
    gateway = await gatewayWith(['live-stream']);
    const live = await liveServer(gateway);
    server = live.server;
    const late = await fetch(`http://${live.url}/slow-start`);
    expect(late.status).toBe(504);
    expect(await late.json()).toMatchObject({ error: { code: 'PGW_ERR_TIMEOUT' } });
    const stalls = await fetch(`http://${live.url}/stalls`);
    expect(stalls.status).toBe(200);
    await expect(stalls.text()).rejects.toThrow();
  });

  it('answers 503 PGW_ERR_TOO_MANY_CONNECTIONS past stream.max_connections (worker runtime)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-stream-cap-'));
    writeFileSync(
      path.join(dir, 'index.js'),
      "export default { routes: { 'GET /held': () => ({ statusCode: 200, body: (async function* () { for (;;) yield 'x'.repeat(16384); })() }) } };\n",
    );
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      'name: stream-cap\nversion: 1.0.0\nendpoints:\n  - { path: /held, method: GET, stream: { max_connections: 1 } }\n',
    );
    const { PluginGateway } = await import('../../src/index.js');
    gateway = new PluginGateway({ logger: false });
    await gateway.load(dir);
    await gateway.start();
    const live = await liveServer(gateway);
    server = live.server;
    const held = http.get(`http://${live.url}/held`);
    held.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((r) => held.once('response', r));
    res.pause();
    const refused = await fetch(`http://${live.url}/held`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'PGW_ERR_TOO_MANY_CONNECTIONS' } });
    held.destroy();
    await expect.poll(() => gateway!.metrics('stream-cap').active_connections).toBe(0);
    const again = http.get(`http://${live.url}/held`);
    again.on('error', () => {});
    expect(
      (await new Promise<http.IncomingMessage>((r) => again.once('response', r))).statusCode,
    ).toBe(200);
    again.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [
      'websocket: true',
      /endpoints\.0\.websocket.*only the worker and process runtimes serve \(runtime.type is wasm\)/,
    ],
    [
      'stream: { request_body: true }',
      /endpoints\.0\.stream.*stream\.request_body, which a wasm plugin does not read as a stream/,
    ],
  ])('refuses a wasm endpoint with %s at load (wasm streams responses only)', async (live, why) => {
    const { PluginGateway } = await import('../../src/index.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-live-'));
    copyFileSync(fixture('live-wasm-stream/plugin.wasm'), path.join(dir, 'plugin.wasm'));
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      ['name: wasm-live', 'version: 1.0.0', 'runtime: { type: wasm }', 'endpoints:'].join('\n') +
        `\n  - { path: /feed, method: GET, ${live} }\n`,
    );
    const g = new PluginGateway({ logger: false });
    await expect(g.load(dir)).rejects.toMatchObject({
      code: 'PGW_ERR_LIVE_UNSUPPORTED',
      message: expect.stringMatching(new RegExp(`plugin\\.yaml:\\d+:\\d+ ${why.source}`)),
    });
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
