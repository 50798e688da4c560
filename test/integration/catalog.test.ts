import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  MemoryRegistry,
  PluginGateway,
  hashFiles,
  packPlugin,
  type CatalogEntry,
  type PluginStatus,
} from '../../src/index.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

// Inside the repository, so that unpacked plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const cacheDir = path.resolve(import.meta.dirname, '../.catalog-cache', String(process.pid));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

/** The same plugin as another version: its manifest edited, its hash computed again. */
function asVersion(entry: CatalogEntry, version: string): CatalogEntry {
  const manifest = entry.manifest.replace(/^version: .*$/m, `version: ${version}`);
  const files = { ...entry.files, 'plugin.yaml': Buffer.from(manifest).toString('base64') };
  return { ...entry, version, manifest, files, hash: hashFiles(files) };
}

const statusOf = (g: PluginGateway, name: string): PluginStatus | undefined => g.get(name)?.status;

describe('the catalog of an environment (watch: { env })', () => {
  it('packs a plugin folder with a content hash', async () => {
    const entry = await packPlugin(fixture('profiles'));
    expect(entry).toMatchObject({ name: 'profiles', version: '1.2.0' });
    expect(Object.keys(entry.files).sort()).toEqual(['index.js', 'plugin.yaml']);
    expect(entry.hash).toBe(hashFiles(entry.files));
    expect(entry.hash).toMatch(/^sha256-[0-9a-f]{64}$/);
  });

  it('loads what is published, moves to a newer version, and unloads what is withdrawn', async () => {
    const registry = new MemoryRegistry();
    const v1 = await packPlugin(fixture('profiles'));
    await registry.publish('staging', v1);
    await registry.publish('production', asVersion(v1, '0.9.0'));
    gateway = new PluginGateway({ logger: false, registry, watch: { env: 'staging', cacheDir } });
    await gateway.start();
    await until(() => statusOf(gateway!, 'profiles') === 'active', 'v1 to be active');
    expect(gateway.get('profiles')?.version).toBe('1.2.0');
    expect((await gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode).toBe(200);

    await registry.publish('staging', asVersion(v1, '1.3.0'));
    await until(() => gateway!.get('profiles')?.version === '1.3.0', 'v1.3.0');
    await until(() => statusOf(gateway!, 'profiles') === 'active', 'v1.3.0 to be active');
    // An older version published later does not replace the newest.
    await registry.publish('staging', asVersion(v1, '1.1.0'));
    await new Promise((r) => setTimeout(r, 200));
    expect(gateway.get('profiles')?.version).toBe('1.3.0');

    await registry.unpublish('staging', 'profiles', '1.3.0');
    await until(
      () => gateway!.get('profiles')?.version === '1.2.0',
      'back to the newest left, 1.2.0',
    );
    await registry.unpublish('staging', 'profiles', '1.2.0');
    await registry.unpublish('staging', 'profiles', '1.1.0');
    await until(() => gateway!.get('profiles') === undefined, 'profiles to be unloaded');
  });

  it('refuses an entry whose files do not match its hash, and says so', async () => {
    const registry = new MemoryRegistry();
    const entry = await packPlugin(fixture('profiles'));
    const tampered = {
      ...entry,
      files: { ...entry.files, 'index.js': Buffer.from('process.exit(1)').toString('base64') },
    };
    gateway = new PluginGateway({ logger: false, registry, watch: { env: 'staging', cacheDir } });
    const errors: { name: string; error: Error }[] = [];
    gateway.on('catalog:error', (e) => errors.push(e));
    await gateway.start();
    await registry.publish('staging', tampered);
    await until(() => errors.length === 1, 'catalog:error');
    expect(errors[0]!.error).toMatchObject({
      code: 'PGW_ERR_CATALOG_INVALID',
      message: expect.stringContaining('do not match its hash'),
    });
    expect(gateway.get('profiles')).toBeUndefined();
  });
});
