/**
 * A native plugin attacking the key/value store and streams of the plugin protocol: kv floods, huge
 * keys and values, malformed kv notes, stream chunks without credit or over `max_chunk_bytes`. The
 * host stays bounded (the store within `resources.disk`, `limits.kvKeys`, `limits.kvBytes`; a stream
 * past its credit cut), counts what it refused, and the plugin serves on. The attacker is the Go
 * fixture test/fixtures/native/go-live writing on its channel behind the SDK's back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type http from 'node:http';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { closeServer, fixture, get, statusOf } from '../helpers.js';
import { liveServer } from '../live-clients.js';
import { buildGoPlugin, goReason } from '../services/native-build.js';
import { bwrapReason, usable } from '../services/toolchains.js';

const ready =
  usable('the native live security tests', goReason(), 'install Go 1.26') &&
  usable('the native live security tests', bwrapReason(), 'apt-get install -y bubblewrap');
const NAME = 'go-live';

describe.runIf(ready)('a native plugin attacking the store and streams', () => {
  let plugin: { dir: string; dispose(): void };
  let gateway: PluginGateway | undefined;
  let server: http.Server | undefined;
  beforeAll(() => {
    plugin = buildGoPlugin(fixture('native/go-live'), NAME);
  }, 300_000);
  afterAll(() => plugin?.dispose());
  afterEach(async () => {
    await gateway?.stop();
    await closeServer(server);
    gateway = server = undefined;
  });

  async function start(options: GatewayOptions = {}) {
    gateway = new PluginGateway({ logger: false, ...options });
    await gateway.load(plugin.dir);
    await gateway.start();
    await statusOf(gateway, NAME, 'active');
    return gateway;
  }
  const found = async (g: PluginGateway, key: string) =>
    ((await get(g, `/live/kv/${key}`)).body as { found: boolean }).found;
  const flood = (g: PluginGateway, body: object) =>
    g.handle({
      method: 'POST',
      path: '/live/kv-flood',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('a flood of kv sets it never waits for: the store stops at limits.kvKeys, the process serves on', async () => {
    // 20,000 frames from the plugin: on a loaded machine that takes longer than the default deadline.
    const g = await start({ limits: { kvKeys: 100 }, pluginTimeout: '60s' });
    expect((await get(g, '/live/raw/kv-flood')).body).toEqual({ sent: 20_000 });
    await expect.poll(() => found(g, 'f00099')).toBe(true);
    expect(await found(g, 'f00100')).toBe(false);
    expect(await found(g, 'f19999')).toBe(false);
    expect(g.get(NAME)!.status).toBe('active');
    expect(g.metrics(NAME).protocol_violations).toBe(0);
  });

  it('a value past resources.disk (1 MiB here), or past limits.kvBytes: refused, nothing kept', async () => {
    const g = await start();
    const big = await flood(g, { keys: 1, size: 1024 * 1024 });
    expect(big.body).toMatchObject({ stored: 0, limit: true });
    expect((big.body as { error: string }).error).toMatch(/PGW_ERR_PLUGIN_LIMIT.*resources\.disk/);
    expect(await found(g, '0')).toBe(false);
    // Many values that fit one by one stop at the store's bytes.
    const many = await flood(g, { keys: 100, size: 64 * 1024 });
    expect(many.body).toMatchObject({ stored: 15, limit: true });
    await g.stop();
    const clamped = await start({ limits: { kvBytes: 8 * 1024 } });
    const res = await flood(clamped, { keys: 100, size: 1000 });
    expect(res.body).toMatchObject({ stored: 8, limit: true });
    expect((res.body as { error: string }).error).toMatch(/limits\.kvBytes/);
  });

  it('a key over 1 KiB: refused, nothing kept', async () => {
    const g = await start();
    const res = await flood(g, { keys: 1, size: 1, keyBytes: 1025 });
    expect(res.body).toMatchObject({ stored: 0, limit: false });
    expect((res.body as { error: string }).error).toMatch(/key over 1 KiB/);
    expect((await flood(g, { keys: 1, size: 1, keyBytes: 1024 })).body).toEqual({ stored: 1 });
  });

  it('malformed kv notes: each refused and counted, the process goes on', async () => {
    const g = await start();
    expect((await get(g, '/live/raw/kv-malformed')).body).toEqual({ sent: 5 });
    await expect.poll(() => g.metrics(NAME).protocol_violations).toBe(5);
    expect(await found(g, 'a')).toBe(false);
    expect(g.get(NAME)!.status).toBe('active');
  });

  it('a kv note from a plugin without resources.disk: refused with a reason, counted', async () => {
    const { mkdtempSync, cpSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-nodisk-'));
    try {
      cpSync(plugin.dir, dir, { recursive: true });
      const manifest = readFileSync(path.join(dir, 'plugin.yaml'), 'utf8');
      writeFileSync(path.join(dir, 'plugin.yaml'), manifest.replace(/^ {2}disk: .*\n/m, ''));
      gateway = new PluginGateway({ logger: false });
      await gateway.load(dir);
      await gateway.start();
      const res = await gateway.handle({
        method: 'PUT',
        path: '/live/kv/a',
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      expect(res.statusCode).toBe(507);
      expect((res.body as { error: string }).error).toMatch(/declare resources\.disk/);
      expect(gateway.metrics(NAME).protocol_violations).toBe(1);
    } finally {
      await gateway?.stop();
      gateway = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stream chunks without credit: that stream is cut, the breach counted, the plugin streams on', async () => {
    const g = await start();
    const live = await liveServer(g);
    server = live.server;
    const res = await fetch(`http://${live.url}/live/ignores-credit`);
    // Its raw chunks may overtake the head the SDK queued: then the stream ends before it began (500).
    if (res.status === 200) await expect(res.text()).rejects.toThrow();
    else expect(res.status).toBe(500);
    expect(g.metrics(NAME).protocol_violations).toBeGreaterThan(0);
    await expect.poll(() => g.metrics(NAME).active_connections).toBe(0);
    expect(g.get(NAME)!.status).toBe('active');
    const again = await fetch(`http://${live.url}/live/feed`);
    expect((await again.text()).split('\n\n').filter((b) => b.startsWith('id:'))).toHaveLength(3);
  });

  it('a chunk over max_chunk_bytes: the stream is aborted', async () => {
    const g = await start();
    const live = await liveServer(g);
    server = live.server;
    const res = await fetch(`http://${live.url}/live/big-chunk`);
    await expect(res.text()).rejects.toThrow();
    await expect.poll(() => g.metrics(NAME).active_connections).toBe(0);
    expect(g.get(NAME)!.status).toBe('active');
  });
});
