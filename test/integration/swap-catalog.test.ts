import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryRegistry,
  PluginGateway,
  packPlugin,
  type DiscoveryRegistry,
  type SwapEvent,
} from '../../src/index.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';
import { steadyLoad, until, writeVersion } from '../swap-helpers.js';

// Inside the repository, so that unpacked plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const cacheDir = path.resolve(import.meta.dirname, '../.catalog-cache', `swap-${process.pid}`);
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');

const watching = (registry: DiscoveryRegistry) =>
  new PluginGateway({
    logger: false,
    registry,
    watch: { env: 'staging', cacheDir, trusted: true },
  });

describe('a catalog publish is a hot swap', () => {
  it('swaps to a newer published version; a pin holds against a publish until unpin()', async () => {
    const registry = new MemoryRegistry();
    await registry.publish('staging', await packPlugin(writeVersion('1.0.0')));
    const gateway = watching(registry);
    try {
      await gateway.start();
      await until(() => gateway.get('swapme')?.status === 'active', 'v1 to be active');
      const swaps: SwapEvent[] = [];
      gateway.on('plugin:swap', (e) => swaps.push(e));
      const v2 = await packPlugin(writeVersion('2.0.0'));
      await registry.publish('staging', v2);
      await until(() => swaps.length === 1, 'the swap to v2');
      // The hash recorded at load is the catalog entry's.
      expect(swaps[0]).toMatchObject({ from: '1.0.0', to: '2.0.0', hash: v2.hash });

      await gateway.pin('swapme', '2.0.0');
      await registry.publish('staging', await packPlugin(writeVersion('3.0.0')));
      await new Promise((r) => setTimeout(r, 500));
      expect(gateway.get('swapme')).toMatchObject({ version: '2.0.0', pinned: '2.0.0' });

      // A version that cannot start is given up once; v2 serves on.
      gateway.unpin('swapme');
      const broken = writeVersion('4.0.0', { init: "throw new Error('no');" });
      await registry.publish('staging', await packPlugin(broken));
      const errors: string[] = [];
      gateway.on('catalog:error', (e) =>
        errors.push(`${e.version} ${(e.error as { code?: string }).code}`),
      );
      await registry.unpublish('staging', 'swapme', '3.0.0');
      await until(() => errors.length > 0, 'v4 to be given up');
      expect(errors).toEqual(['4.0.0 PGW_ERR_SWAP_FAILED']);
      expect(gateway.get('swapme')?.version).toBe('2.0.0');
    } finally {
      await gateway.stop();
    }
  });
});

describe('a rolling rollout (watch.rolling)', () => {
  it('moves one gateway at a time, in node id order, and halts at a version given up', async () => {
    const registry = new MemoryRegistry();
    await registry.publish('staging', await packPlugin(writeVersion('1.0.0')));
    const [a, b] = ['a', 'b'].map(
      (id) =>
        new PluginGateway({
          logger: false,
          registry,
          node: { id, address: 'http://127.0.0.1:9', secret: 'rolling-rollout-secret-0123' },
          watch: { env: 'staging', cacheDir, trusted: true, rolling: true },
        }),
    ) as [PluginGateway, PluginGateway];
    try {
      await Promise.all([a.start(), b.start()]);
      for (const g of [a, b]) await until(() => g.get('swapme')?.status === 'active', 'v1');
      // When b's v2 is up (before it takes b's traffic), a already routes to its own v2.
      const aWhenBStarts: (string | undefined)[] = [];
      b.on('plugin:status', (info) => {
        if (info.version === '2.0.0' && info.status === 'active') {
          aWhenBStarts.push(a.get('swapme')?.version);
        }
      });
      await registry.publish('staging', await packPlugin(writeVersion('2.0.0')));
      await until(() => b.get('swapme')?.version === '2.0.0', 'v2 on b', 30_000);
      expect(a.get('swapme')?.version).toBe('2.0.0');
      expect(aWhenBStarts.length).toBeGreaterThan(0);
      expect(aWhenBStarts.every((v) => v === '2.0.0')).toBe(true);

      // a gives v3 up: b never tries it.
      const given: string[] = [];
      a.on('catalog:error', (e) => given.push(e.version));
      const tried: string[] = [];
      b.on('plugin:status', (info) => info.version === '3.0.0' && tried.push(info.status));
      await registry.publish(
        'staging',
        await packPlugin(writeVersion('3.0.0', { init: "throw new Error('no');" })),
      );
      await until(() => given.length > 0, 'a to give v3 up');
      await new Promise((r) => setTimeout(r, 600));
      expect(tried).toEqual([]);
      expect(b.get('swapme')?.version).toBe('2.0.0');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe.runIf(haveEtcd)('a catalog publish over a fleet on etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  });
  afterAll(() => etcd?.destroy());

  it('swaps both gateways watching the environment, with zero failed requests', async () => {
    const publisher = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'swap' });
    const gateways = [1, 2].map(() =>
      watching(new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'swap' })),
    );
    try {
      await publisher.publish('staging', await packPlugin(writeVersion('1.0.0')));
      await Promise.all(gateways.map((g) => g.start()));
      for (const g of gateways) {
        await until(() => g.get('swapme')?.status === 'active', 'v1 on both gateways');
      }
      const loads = gateways.map((g) => steadyLoad(g, ['/sw/ping'], 4));
      await until(() => loads.every((l) => l.total > 100), 'load on both');
      await publisher.publish('staging', await packPlugin(writeVersion('2.0.0')));
      for (const g of gateways) {
        await until(() => g.get('swapme')?.version === '2.0.0', 'v2 on both gateways', 30_000);
      }
      const seen = loads.map((l) => l.total);
      await until(() => loads.every((l, n) => l.total > seen[n]! + 100), 'load to go on');
      const results = await Promise.all(loads.map((l) => l.stop()));
      for (const { failures, versions } of results) {
        expect(failures).toEqual([]);
        expect(versions.at(-1)).toBe('2.0.0');
      }
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
      await publisher.close();
    }
  });
});
