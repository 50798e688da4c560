/**
 * Streamed responses and Server-Sent Events from a wasm plugin (AssemblyScript, through the template's
 * SDK helper), over real HTTP: one live thread per open stream, credit in a shared cell.
 */
import http from 'node:http';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger } from '../helpers.js';
import { liveServer, loggedLine, parseSse } from '../live-clients.js';
import { build, templates, toolchainPresent } from '../wasm/templates.js';
import { serveWasmStream, wasmStreamBuildable } from '../wasm-stream-live.js';

const present = wasmStreamBuildable();

let gateway: PluginGateway;
let server: http.Server;
let url: string;
const log = memoryLogger();

describe.skipIf(!present)('wasm plugin streams (AssemblyScript)', () => {
  beforeAll(async () => {
    ({ gateway, server, url } = await serveWasmStream(log));
  }, 120_000);
  afterAll(async () => {
    await gateway?.stop();
    await closeServer(server);
  });

  it('streams SSE frames as written, resuming after the Last-Event-ID the plugin read', async () => {
    const res = await fetch(`${url}/events`, { headers: { 'last-event-id': '5' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const text = await res.text();
    expect(text.startsWith(': hello\n\n')).toBe(true);
    expect(parseSse(text)).toEqual([
      { id: '6', event: 'tick', data: '{"n":6}' },
      { id: '7', event: 'tick', data: '{"n":7}' },
      { id: '8', event: 'tick', data: '{"n":8}' },
      { id: '9', event: 'tick', data: '{"n":9}' },
      { id: '10', event: 'tick', data: '{"n":10}' },
      { data: 'two\nlines' },
    ]);
  });

  it('sends a call that streamed nothing as its whole reply', async () => {
    const res = await fetch(`${url}/whole`);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-whole')).toBe('yes');
    expect(await res.text()).toBe('not streamed');
  });

  it('answers STREAM_NONE to a write outside a stream endpoint', async () => {
    const res = await fetch(`${url}/plain`);
    expect(await res.text()).toBe('-2');
  });

  it('pauses the plugin in its write while the client does not read, and ends its call when the client goes away', async () => {
    const rssBefore = process.memoryUsage().rss;
    const req = http.get(`${url}/endless`);
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    res.pause(); // the kernel's buffers fill, then the host's window, then the plugin blocks
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    await new Promise((r) => setTimeout(r, 1500));
    expect(gateway.metrics('wasm-stream').active_connections).toBe(1);
    const grown = process.memoryUsage().rss - rssBefore;
    req.destroy();
    const said = await loggedLine(log, 'endless ended after ');
    // The plugin returned once the host cancelled: its last write answered STREAM_CLOSED (-1).
    expect(said).toMatch(/: -1$/);
    const chunks = Number(/after (\d+) chunks/.exec(said)![1]);
    // Stopped by credit alone: the window of 8 chunks, plus what the sockets held (16 KiB each).
    expect(chunks).toBeGreaterThan(0);
    expect(chunks * 16 * 1024).toBeLessThan(32 * 1024 * 1024);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(received).toBe(0);
    await expect.poll(() => gateway.metrics('wasm-stream').active_connections).toBe(0);
  });

  it('serves streams at once, each on a thread of its own', async () => {
    const bodies = await Promise.all(
      [1, 2, 3].map(async (n) =>
        (await fetch(`${url}/events`, { headers: { 'last-event-id': `${n * 10}` } })).text(),
      ),
    );
    bodies.forEach((b, i) => expect(parseSse(b)[0]!.id).toBe(`${(i + 1) * 10 + 1}`));
  });

  it("gives a stream's call the request's flag values and trace, as a request's call gets them", async () => {
    const exporter = new InMemorySpanExporter();
    const lines = memoryLogger();
    const g = await gatewayWith(['wasm-stream'], {
      logger: lines,
      tracing: {
        tracerProvider: new BasicTracerProvider({
          spanProcessors: [new SimpleSpanProcessor(exporter)],
        }),
      },
      authenticate: (req) => ({ userId: String(req.headers?.['x-user']) }),
    });
    await g.setFlag('wasm-stream', 'beta', { users: ['ada'] });
    const live = await liveServer(g);
    try {
      const sent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const get = async (path: string, user: string) => {
        const headers = { 'x-user': user, traceparent: sent };
        return (await fetch(`http://${live.url}${path}`, { headers })).json();
      };
      expect(await get('/flagged', 'ada')).toEqual({ beta: true });
      expect(await get('/flagged', 'bob')).toEqual({ beta: false });
      expect(await get('/flagged-whole', 'ada')).toEqual({ beta: true });
      expect(await get('/flagged-whole', 'bob')).toEqual({ beta: false });
      // Each call's log line names its hop in the caller's trace, streamed or not.
      const hops = () => exporter.getFinishedSpans().filter((s) => s.name === 'veza.hop');
      await expect.poll(() => hops().length).toBe(4);
      const hopIds = hops().map((h) => h.spanContext().spanId);
      for (const msg of ['flagged stream', 'flagged request']) {
        const said = lines.lines.filter((l) => l.msg === msg);
        expect(said).toHaveLength(2);
        for (const line of said) {
          expect(line.trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
          expect(hopIds).toContain(line.span_id);
        }
      }
    } finally {
      await g.stop();
      await closeServer(live.server);
    }
  });

  it('answers 504 when the module never writes its head, and ends its call', async () => {
    const res = await fetch(`${url}/spin`);
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: 'PGW_ERR_TIMEOUT' } });
    // The spinning call holds its thread until the grace after the cancel ends it.
    await expect.poll(() => gateway.metrics('wasm-stream').active_connections).toBe(0);
    const again = await fetch(`${url}/events`);
    expect(parseSse(await again.text())).toHaveLength(6);
  });
});

/** Each SDK's SSE helper, in its template's `GET /events`, built with the real toolchain. */
describe.each(templates.filter((t) => t.lang !== 'c'))('the $lang template streams SSE', (t) => {
  it.skipIf(!toolchainPresent(t))(
    'three events after the Last-Event-ID, as text/event-stream',
    async () => {
      build(t);
      const g = await gatewayWith([], { logger: false });
      await g.load(t.dir);
      const live = await liveServer(g);
      try {
        const res = await fetch(`http://${live.url}/events`, {
          headers: { 'last-event-id': '41' },
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        expect(res.headers.get('cache-control')).toBe('no-cache');
        expect(parseSse(await res.text())).toEqual(
          [42, 43, 44].map((n) => ({ id: `${n}`, event: 'tick', data: `{"n":${n}}` })),
        );
      } finally {
        await g.stop();
        await closeServer(live.server);
      }
    },
    600_000,
  );
});
