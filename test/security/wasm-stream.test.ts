/**
 * A wasm module that misbehaves while streaming: it claims a chunk larger than `max_chunk_bytes` or
 * outside its memory, writes for ever and ignores every answer, or holds streams open past the cap.
 * The host copies nothing it refused, terminates a call that does not return after its cancel, and
 * answers 503 past the cap instead of starting threads.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger } from '../helpers.js';
import { liveServer, loggedLine } from '../live-clients.js';
import { serveWasmStream, wasmStreamBuildable } from '../wasm-stream-live.js';

const present = wasmStreamBuildable();

let gateway: PluginGateway;
let server: http.Server;
let url: string;
const log = memoryLogger();

/** A request whose response the client never reads. */
async function stalled(path: string): Promise<{ req: http.ClientRequest; status: number }> {
  const req = http.get(`${url}${path}`);
  const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
  res.pause();
  return { req, status: res.statusCode! };
}

describe.skipIf(!present)('wasm streams: a module that misbehaves', () => {
  beforeAll(async () => {
    ({ gateway, server, url } = await serveWasmStream(log));
  }, 120_000);
  afterAll(async () => {
    await gateway?.stop();
    await closeServer(server);
  });

  it('cuts a stream whose module claims a chunk over max_chunk_bytes, copying none of it', async () => {
    const rss = process.memoryUsage().rss;
    const res = await fetch(`${url}/huge`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(await loggedLine(log, 'huge answered ')).toBe('huge answered -3');
    // It claimed a TiB: nothing near it was read or copied.
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    expect(log.lines.some((l) => String(l.err).includes('over its limit of 1024'))).toBe(true);
  });

  it('cuts a stream whose module writes from outside its memory', async () => {
    // Before any head: the caller gets the plugin's failure, not a body.
    const res = await fetch(`${url}/outside`);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_PLUGIN_ERROR' } });
    expect(await loggedLine(log, 'outside answered ')).toBe('outside answered -3');
  });

  it('cuts a stream whose module writes a bad head, or a head after its first chunk', async () => {
    const bad = await fetch(`${url}/badhead`);
    expect(bad.status).toBe(500);
    expect(await bad.json()).toMatchObject({ error: { code: 'PGW_ERR_PLUGIN_ERROR' } });
    expect(await loggedLine(log, 'badhead answered ')).toBe('badhead answered -3');
    const late = await fetch(`${url}/twoheads`);
    expect(late.status).toBe(200);
    await expect(late.text()).rejects.toThrow();
    expect(await loggedLine(log, 'twoheads answered ')).toBe('twoheads answered -3');
  });

  it('terminates a call that ignores its cancel and writes for ever; the next stream is served', async () => {
    const { req, status } = await stalled('/deaf');
    expect(status).toBe(200);
    await expect.poll(() => gateway.metrics('wasm-stream').active_connections).toBe(1);
    // The client goes away: every write now answers STREAM_CLOSED, which this module ignores.
    req.destroy();
    await expect.poll(() => gateway.metrics('wasm-stream').active_connections).toBe(0);
    const res = await fetch(`${url}/events`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data: two\ndata: lines\n\n');
    expect(await loggedLine(log, "a stream's call did not return within")).toMatch(
      /its thread is ended/,
    );
    // The host's doing, not a crash: the plugin stays active.
    expect(gateway.get('wasm-stream')?.status).toBe('active');
    expect(gateway.metrics('wasm-stream').crashes).toBe(0);
  });

  it('answers 503 PGW_ERR_TOO_MANY_CONNECTIONS past stream.max_connections, never a hang', async () => {
    const held = [await stalled('/deaf'), await stalled('/deaf')];
    expect(held.map((h) => h.status)).toEqual([200, 200]);
    const refused = await fetch(`${url}/deaf`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      error: { code: 'PGW_ERR_TOO_MANY_CONNECTIONS' },
    });
    // Another endpoint has its own count.
    expect((await fetch(`${url}/whole`)).status).toBe(201);
    for (const h of held) h.req.destroy();
    await expect.poll(() => gateway.metrics('wasm-stream').active_connections).toBe(0);
    const { req, status } = await stalled('/deaf');
    expect(status).toBe(200);
    req.destroy();
  });

  it('holds a plugin to limits.wasmStreamThreads whatever its manifest asks: 503 past it, no thread more', async () => {
    // Each open wasm stream is a thread with an instance of its own (~14 MiB): the operator's ceiling.
    const capped = await gatewayWith(['wasm-stream'], {
      logger: false,
      limits: { wasmStreamThreads: 2 },
    });
    const live = await liveServer(capped);
    const base = `http://${live.url}`;
    const open = async () => {
      const req = http.get(`${base}/endless`);
      const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
      res.pause();
      return { req, status: res.statusCode! };
    };
    try {
      const held = [await open(), await open()];
      expect(held.map((h) => h.status)).toEqual([200, 200]);
      const refused = await fetch(`${base}/endless`);
      expect(refused.status).toBe(503);
      const answer = (await refused.json()) as { error: { code: string; message: string } };
      expect(answer.error.code).toBe('PGW_ERR_TOO_MANY_CONNECTIONS');
      expect(answer.error.message).toContain('limits.wasmStreamThreads');
      for (const h of held) h.req.destroy();
    } finally {
      await capped.stop();
      await closeServer(live.server);
    }
  });
});
