/**
 * The key/value store and streamed responses of native plugins through the public API, in bubblewrap:
 * the Go SDK (test/fixtures/native/go-live) and the Rust crate (rust-live) serve the same routes. The
 * store lives on the host (it outlives the plugin's process); streams go by credit (a client that does
 * not read pauses the plugin), end when the client goes, and may read a streamed upload.
 */
import type http from 'node:http';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { closeServer, fixture, statusOf } from '../helpers.js';
import { liveServer, producedWhileUnread } from '../live-clients.js';
import { nativeLanguages } from '../services/native-build.js';

describe.each(nativeLanguages('live tests', { Go: 'go-live', Rust: 'rust-live' }))(
  'a native %s plugin',
  (_, build, name) => {
    let plugin: { dir: string; dispose(): void };
    let gateway: PluginGateway | undefined;
    let server: http.Server | undefined;
    beforeAll(() => {
      plugin = build(fixture(`native/${name}`), name);
    }, 300_000);
    afterAll(() => plugin?.dispose());
    afterEach(async () => {
      await gateway?.stop();
      await closeServer(server);
      gateway = server = undefined;
    });

    async function start(options: ConstructorParameters<typeof PluginGateway>[0] = {}) {
      gateway = new PluginGateway({ logger: false, ...options });
      await gateway.load(plugin.dir);
      await gateway.start();
      await statusOf(gateway, name, 'active');
      const live = await liveServer(gateway);
      server = live.server;
      return { g: gateway, url: live.url };
    }
    const kv = (g: PluginGateway, method: string, key: string, body?: string) =>
      g.handle({
        method,
        path: `/live/kv/${key}`,
        headers: body === undefined ? {} : { 'content-type': 'text/plain' },
        body,
      });

    it('keeps values in the host-side store: set, get, overwrite, delete; they outlive its process', async () => {
      const { g } = await start();
      expect((await kv(g, 'GET', 'a')).body).toEqual({ value: '', found: false });
      expect((await kv(g, 'PUT', 'a', 'één')).statusCode).toBe(204);
      expect((await kv(g, 'GET', 'a')).body).toEqual({ value: 'één', found: true });
      expect((await kv(g, 'PUT', 'a', '')).statusCode).toBe(204);
      expect((await kv(g, 'GET', 'a')).body).toEqual({ value: '', found: true });
      await kv(g, 'PUT', 'b', 'kept');
      expect((await kv(g, 'DELETE', 'a')).statusCode).toBe(204);
      expect((await kv(g, 'GET', 'a')).body).toEqual({ value: '', found: false });
      // The store is the runtime's, on the host: the process that replaces a crashed one reads it.
      const crashes: string[] = [];
      g.on('plugin:crash', (e) => crashes.push(e.plugin));
      expect((await g.handle({ method: 'GET', path: '/live/exit', headers: {} })).statusCode).toBe(
        500,
      );
      // (A GET the process never answered is given to the next one, which exits too.)
      await expect.poll(() => crashes[0]).toBe(name);
      await statusOf(g, name, 'active', 15_000);
      expect((await kv(g, 'GET', 'b')).body).toEqual({ value: 'kept', found: true });
      // Not an unload: a plugin loaded again starts with an empty store.
      await g.unload(name);
      await g.load(plugin.dir);
      await statusOf(g, name, 'active');
      expect((await kv(g, 'GET', 'b')).body).toEqual({ value: '', found: false });
    });

    it('refuses a set past limits.kvKeys with PGW_ERR_PLUGIN_LIMIT; the plugin serves on', async () => {
      const { g } = await start({ limits: { kvKeys: 5 } });
      const res = await g.handle({
        method: 'POST',
        path: '/live/kv-flood',
        headers: { 'content-type': 'application/json' },
        body: { keys: 100, size: 1, keyBytes: 3 },
      });
      expect(res.body).toMatchObject({ stored: 5, limit: true });
      expect((res.body as { error: string }).error).toMatch(/PGW_ERR_PLUGIN_LIMIT.*limits\.kvKeys/);
      expect((await kv(g, 'GET', '004')).body).toEqual({ value: 'v', found: true });
      expect(g.get(name)!.status).toBe('active');
    });

    it('streams Server-Sent Events from the plugin process', async () => {
      const { g, url } = await start();
      const res = await fetch(`http://${url}/live/feed`, { headers: { 'last-event-id': '7' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const frames = (await res.text()).split('\n\n').filter((b) => b.startsWith('id:'));
      const events = frames.map((b) => {
        const lines = b.split('\n');
        return {
          id: lines[0],
          event: lines[1],
          data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)),
        };
      });
      expect(events.map((e) => [e.id, e.event, e.data.n, e.data.after])).toEqual([
        ['id: 1', 'event: tick', 1, '7'],
        ['id: 2', 'event: tick', 2, '7'],
        ['id: 3', 'event: tick', 3, '7'],
      ]);
      expect(events[0]!.data.pid).not.toBe(process.pid);
      await expect.poll(() => g.metrics(name).active_connections).toBe(0);
    });

    it('gives a stream handler the context of a request handler: its traceparent and per-request flags', async () => {
      const sent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const { g, url } = await start({
        tracing: { tracerProvider: new BasicTracerProvider() },
        authenticate: (req) => ({ userId: String(req.headers?.['x-user']) }),
      });
      await g.setFlag(name, 'beta', { users: ['ada'] });
      const read = async (user: string) => {
        const res = await fetch(`http://${url}/live/context`, {
          headers: { 'x-user': user, traceparent: sent },
        });
        expect(res.status).toBe(200);
        return (await res.json()) as { traceparent: string; beta: boolean };
      };
      const ada = await read('ada');
      // The stream's hop: the caller's trace, a span of its own.
      expect(ada.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
      expect(ada.traceparent).not.toBe(sent);
      expect(ada.beta).toBe(true);
      expect((await read('bob')).beta).toBe(false);
    });

    it('serves a stream endpoint with a plain handler: its response as the stream', async () => {
      const { url } = await start();
      const res = await fetch(`http://${url}/live/plain`);
      expect(res.status).toBe(201);
      expect(res.headers.get('x-plain')).toBe('yes');
      expect(await res.json()).toEqual({ plain: true });
    });

    it('pauses the plugin while the client does not read (credit), and ends its handler when the client goes', async () => {
      const { g, url } = await start();
      const counts = async () =>
        (await g.handle({ method: 'GET', path: '/live/produced', headers: {} })).body as {
          produced: number;
          cancelled: number;
        };
      const { produced: last, req } = await producedWhileUnread(
        `http://${url}/live/endless`,
        async () => (await counts()).produced,
      );
      expect(last).toBeGreaterThan(0);
      // 8 chunks of credit ahead, plus what the sockets hold: far below an unbounded producer.
      expect(last * 16 * 1024).toBeLessThan(32 * 1024 * 1024);
      expect(g.metrics(name).active_connections).toBe(1);
      req.destroy();
      await expect.poll(() => g.metrics(name).active_connections).toBe(0);
      // The handler's Write failed with the stream closed, its context ended: it returned.
      await expect.poll(async () => (await counts()).cancelled).toBe(1);
    });

    it('hands the plugin a streamed upload, and refuses one past max_request_bytes with 413', async () => {
      const { url } = await start();
      const put = (bytes: number) =>
        fetch(`http://${url}/live/upload`, {
          method: 'PUT',
          body: new Blob([new Uint8Array(bytes)]).stream(),
          duplex: 'half',
        } as RequestInit);
      const ok = await put(512 * 1024);
      expect(await ok.json()).toEqual({ bytes: 512 * 1024 });
      const tooLarge = await put(4 * 1024 * 1024);
      expect(tooLarge.status).toBe(413);
    });
  },
);
