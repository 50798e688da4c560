// A `process` plugin inside bubblewrap writes what it likes on its channel to the host (fd 3). Node's
// IPC once decoded those bytes in the host, and six of them made it throw and exit. The channel is
// now the plugin protocol's frames read by a bounded parser: whatever the bytes, the host stays up,
// keeps nothing it did not bound, and ends that plugin alone as a crash; the crash policy restarts it.
import { afterEach, describe, expect, it } from 'vitest';
import type { CrashEvent, GatewayOptions, PluginGateway, PluginResponse } from '../../src/index.js';
import { findBwrap } from '../../src/loader/process/process-launch.js';
import { gatewayWith, get, statusOf } from '../helpers.js';

const PLUGIN = 'channel-attacker';
const bwrap = findBwrap();
if (!bwrap) {
  if (process.env.PGW_REQUIRE_SERVICES) throw new Error('bwrap is required (PGW_REQUIRE_SERVICES)');
  console.log('[skip] process channel attacks: bwrap is not installed');
}
const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function attacker(options: GatewayOptions = {}): Promise<PluginGateway> {
  gateway = await gatewayWith(['proc-channel-attacker'], options);
  expect(gateway.get(PLUGIN)?.sandbox).toBe('bwrap');
  return gateway;
}

describe.skipIf(!bwrap)('bytes from a sandboxed plugin on its channel', () => {
  it.each([
    ['six raw bytes', 'six-bytes', /over the limit/],
    ["one of Node's internal NODE_* commands", 'node-internal', /over the limit/],
    ['a frame that is not MessagePack', 'garbage', /does not decode/],
    ['a MessagePack extension other than the timestamp', 'ext', /extension type 5/],
    ['a 100 MiB length prefix', 'huge-prefix', /a frame of 104857600 bytes, over the limit/],
    ['nesting past what the host follows', 'deep', /does not decode \(the body is nested/],
    ['a reply over maxResponseBytes', 'big-reply', /over the limit of 8454144/],
    ['8 million empty maps in 8 MiB (decode work)', 'many-values', /more than 262144 values/],
  ])(
    '%s: that plugin is ended as a crash, the host serves on, the plugin restarts',
    async (_, what, reason) => {
      const gateway = await attacker();
      const crashed = new Promise<CrashEvent>((resolve) => gateway.once('plugin:crash', resolve));
      const res = await get(gateway, `/attack/${what}`);
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
      expect((await crashed).reason).toMatch(/^the plugin's channel carried /);
      expect((await crashed).reason).toMatch(reason);
      await statusOf(gateway, PLUGIN, 'active');
      expect((await get(gateway, '/attack/ok')).statusCode).toBe(200);
    },
  );

  it('a reply 32 KiB over maxResponseBytes, inside the frame bound: that request 500 too large, no crash', async () => {
    const gateway = await attacker();
    const res = await get(gateway, '/attack/edge-reply');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
    expect((await get(gateway, '/attack/ok')).statusCode).toBe(200);
    expect(gateway.get(PLUGIN)?.status).toBe('active');
  });

  it('a frame that never ends: ended once it has been held past the bound', async () => {
    const gateway = await attacker();
    const crashed = new Promise<CrashEvent>((resolve) => gateway.once('plugin:crash', resolve));
    const res = await get(gateway, '/attack/unfinished');
    expect(res.statusCode).toBe(500);
    expect((await crashed).reason).toMatch(/a frame left unfinished for 5000 ms/);
    await statusOf(gateway, PLUGIN, 'active');
    expect((await get(gateway, '/attack/ok')).statusCode).toBe(200);
  }, 30_000);

  it('a well-formed frame that is not a note: refused and counted, the plugin serves on', async () => {
    const gateway = await attacker();
    const res = await get(gateway, '/attack/not-a-note');
    expect(res.statusCode).toBe(200);
    expect(gateway.metrics(PLUGIN).crashes).toBe(0);
    expect(gateway.get(PLUGIN)?.status).toBe('active');
  });

  it('a flood of valid frames: the host reads them as they come and stays bounded', async () => {
    const gateway = await attacker();
    const rssBefore = process.memoryUsage().rss;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const res = await get(gateway, '/attack/flood');
    clearInterval(ticker);
    expect(res.statusCode).toBe(200);
    expect((res.body as { value: number }).value).toBeGreaterThan(10_000);
    // The host's event loop kept turning while it read them.
    expect(ticks).toBeGreaterThan(0);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024);
    expect(gateway.metrics(PLUGIN).crashes).toBe(0);
  }, 30_000);
});

describe.skipIf(!bwrap)('a plugin that does not read its channel', () => {
  it('is ended once 64 MiB wait unread for it, before the host buffers more', async () => {
    // Nine failed requests at once: not what this test is about, so the breaker stays out of it.
    const gateway = await attacker({
      circuitBreaker: { policy: 'consecutive', failureThreshold: 100 },
    });
    const crashed = new Promise<CrashEvent>((resolve) => gateway.once('plugin:crash', resolve));
    const blocked = get(gateway, '/attack/block');
    await new Promise((r) => setTimeout(r, 300));
    const body = Buffer.alloc(10 * 1024 * 1024, 7);
    const sent = Array.from({ length: 8 }, () =>
      gateway.handle({ method: 'POST', path: '/sink', headers: {}, body }),
    );
    expect((await crashed).reason).toMatch(/left more than 64 MiB of its channel unread/);
    expect((await blocked).statusCode).toBe(500);
    expect((await Promise.all(sent)).map((r) => r.statusCode)).toContain(500);
    await statusOf(gateway, PLUGIN, 'active');
    expect((await get(gateway, '/attack/ok')).statusCode).toBe(200);
  }, 30_000);
});

describe.skipIf(!bwrap)('request bodies on the channel', () => {
  it('a body larger than the channel holds is the request’s error, not the plugin’s crash', async () => {
    gateway = await gatewayWith(['proc-body-inspector']);
    const body = Buffer.alloc(65 * 1024 * 1024, 1);
    const res = await gateway.handle({ method: 'POST', path: '/inspect', body });
    expect(res.statusCode).toBe(500);
    expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_GATEWAY_ERROR');
    expect(gateway.metrics('proc-body-inspector').crashes).toBe(0);
    const small = await gateway.handle({
      method: 'POST',
      path: '/inspect',
      body: Buffer.from('ok'),
    });
    expect(small.body).toMatchObject({ length: 2, everything: 'ok' });
  });

  it('reach a process plugin as exact-size copies, not views on a frame holding other bytes', async () => {
    gateway = await gatewayWith(['proc-body-inspector']);
    const secret = Buffer.from('password=hunter2-correct-horse-battery');
    const mine = Buffer.from('mine');
    expect(mine.buffer).toBe(secret.buffer);
    const top = await gateway.handle({ method: 'POST', path: '/inspect', body: mine });
    expect(top.body).toMatchObject({ length: 4, backing: 4, offset: 0, everything: 'mine' });
    const nested = await gateway.handle({
      method: 'POST',
      path: '/inspect/nested',
      body: { name: 'password=hunter2', file: Buffer.from('nested') },
    });
    expect(nested.body).toMatchObject({ length: 6, backing: 6, everything: 'nested' });
  });
});
