import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry, PluginGateway, packPlugin, type GatewayOptions } from '../../src/index.js';
import { fixture, get } from '../helpers.js';
import { until } from '../registry/contract.js';

// Inside the repository, so that unpacked plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const cacheDir = path.resolve(import.meta.dirname, '../.catalog-cache', `trust-${process.pid}`);
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(options: GatewayOptions = {}): Promise<PluginGateway> {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.start();
  return gateway;
}

describe('the trust policy: untrusted code never runs in worker threads', () => {
  it('runs a trusted worker plugin in worker threads', async () => {
    const g = await started();
    const info = await g.load(fixture('profiles'));
    expect(info).toMatchObject({ runtime: 'worker', trusted: true });
    expect(info.sandbox).toBeUndefined();
  });

  it('runs an untrusted worker plugin in the process runtime, where it serves as before', async () => {
    const g = await started();
    const info = await g.load(fixture('profiles'), { trusted: false });
    expect(info).toMatchObject({ runtime: 'process', trusted: false });
    expect(['bwrap', 'permission-model']).toContain(info.sandbox);
    const res = await get(g, '/profiles/7');
    expect(res.statusCode).toBe(200);
  });

  it("refuses an untrusted worker plugin when sandbox.untrusted is 'refuse', and keeps nothing", async () => {
    const g = await started({ sandbox: { untrusted: 'refuse' } });
    await expect(g.load(fixture('profiles'), { trusted: false })).rejects.toMatchObject({
      code: 'PGW_ERR_UNTRUSTED_RUNTIME',
      plugin: 'profiles',
    });
    expect(g.list()).toEqual([]);
    expect((await get(g, '/profiles/7')).statusCode).toBe(404);
  });

  it('lets an untrusted process plugin run as it asks', async () => {
    const g = await started({ sandbox: { untrusted: 'refuse' } });
    const info = await g.load(fixture('proc-echo'), { trusted: false });
    expect(info).toMatchObject({ runtime: 'process', trusted: false });
  });

  it("treats a catalog's plugins as untrusted unless watch.trusted says otherwise", async () => {
    const registry = new MemoryRegistry();
    await registry.publish('staging', await packPlugin(fixture('profiles')));
    const g = await started({ registry, watch: { env: 'staging', cacheDir } });
    await until(() => g.get('profiles')?.status === 'active', 'the catalog plugin to be active');
    expect(g.get('profiles')).toMatchObject({ runtime: 'process', trusted: false });
    expect((await get(g, '/profiles/7')).statusCode).toBe(200);
    await g.stop();

    const trusting = await started({
      registry,
      watch: { env: 'staging', cacheDir, trusted: true },
    });
    await until(() => trusting.get('profiles')?.status === 'active', 'the trusted one');
    expect(trusting.get('profiles')).toMatchObject({ runtime: 'worker', trusted: true });
  });
});
