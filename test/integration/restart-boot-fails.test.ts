import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, type CrashEvent } from '../../src/index.js';
import { closeServer, fixture, get, statusOf } from '../helpers.js';
import { until } from '../swap-helpers.js';

// The plugin's initialize() asks this store; the test takes it down between a crash and the restart.
let store: http.Server;
let storeUrl: string;
let storeUp = true;
let storeHits = 0;
let gateway: PluginGateway | undefined;

beforeAll(async () => {
  store = http.createServer((_req, res) => {
    storeHits++;
    res.writeHead(storeUp ? 200 : 503).end();
  });
  await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
  storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
});
afterAll(() => closeServer(store));
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('a restart that cannot boot', () => {
  it('counts as a crash: retried with backoff, then failed after maxCrashes, saying why', async () => {
    gateway = new PluginGateway({
      logger: false,
      restart: { maxCrashes: 3, window: '60s', backoff: 10 },
    });
    await gateway.load(fixture('store-client'), { config: { store: storeUrl } });
    await gateway.start();
    expect((await get(gateway, '/store-client/ping')).statusCode).toBe(200);
    const crashes: CrashEvent[] = [];
    gateway.on('plugin:crash', (e) => crashes.push(e));
    storeUp = false;
    const hitsBefore = storeHits;

    expect((await get(gateway, '/store-client/exit')).statusCode).toBe(500);
    await statusOf(gateway, 'store-client', 'failed');

    // The thread's exit, then two restarts that could not boot: each counted, the last gives up.
    expect(crashes.map((c) => c.recent)).toEqual([1, 2, 3]);
    expect(crashes[1]!.reason).toMatch(/model store answered 503/);
    expect(crashes[2]).not.toHaveProperty('restartInMs');
    // Each restart ran initialize() again: it asked the store each time.
    expect(storeHits - hitsBefore).toBeGreaterThanOrEqual(2);
    expect(gateway.get('store-client')?.reason).toMatch(
      /^crashed 3 times within 60s; last: .*model store answered 503/,
    );
    expect((await get(gateway, '/store-client/ping')).statusCode).toBe(503);
  });

  it('runs initialize() again at the next restart: once the store is back, the plugin serves again', async () => {
    storeUp = true;
    gateway = new PluginGateway({
      warm: true,
      logger: false,
      restart: { maxCrashes: 50, window: '60s', backoff: 10 },
    });
    await gateway.load(fixture('store-client'), { config: { store: storeUrl } });
    await gateway.start();
    const crashes: CrashEvent[] = [];
    gateway.on('plugin:crash', (e) => crashes.push(e));
    storeUp = false;
    expect((await get(gateway, '/store-client/exit')).statusCode).toBe(500);
    await until(() => crashes.length >= 3, 'two restarts that could not boot');
    expect(gateway.get('store-client')?.status).toBe('loading');
    storeUp = true;
    await statusOf(gateway, 'store-client', 'active');
    expect((await get(gateway, '/store-client/ping')).statusCode).toBe(200);
  });
});
