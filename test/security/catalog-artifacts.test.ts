/**
 * Threat model, catalog artifacts (issue 14, item 14): whoever can write to the registry, or to the
 * gateway's cache folder, tries to make a gateway that watches an environment write outside its cache or
 * run code nobody signed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ArtifactSignatureError,
  CatalogInvalidError,
  MemoryRegistry,
  PluginGateway,
  hashFiles,
  packPlugin,
  unpackPlugin,
  type CatalogEntry,
  type GatewayOptions,
} from '../../src/index.js';
import { fixture, memoryLogger } from '../helpers.js';
import { until } from '../registry/contract.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');

// Inside the repository, so that unpacked plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const base = path.resolve(import.meta.dirname, '../.catalog-cache', `${process.pid}-artifacts`);
let n = 0;
const freshCache = () => path.join(base, `c${n++}`, 'cache');
afterAll(() => rmSync(base, { recursive: true, force: true }));

const publisher = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

let profiles: CatalogEntry;
beforeAll(async () => {
  profiles = await packPlugin(fixture('profiles'));
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The entry with `files` changed and its hash computed again (what a registry writer can do). */
function withFiles(entry: CatalogEntry, files: Record<string, string>): CatalogEntry {
  const unsigned = { ...entry, files, hash: hashFiles(files) };
  delete unsigned.signature;
  return unsigned;
}

async function watching(
  registry: MemoryRegistry,
  watch: NonNullable<GatewayOptions['watch']>,
  logger = memoryLogger(),
) {
  const errors: { name: string; version: string; error: Error }[] = [];
  gateway = new PluginGateway({ logger, registry, watch });
  gateway.on('catalog:error', (e) => void errors.push(e));
  await gateway.start();
  return { gateway, errors, logger };
}

const get = async (g: PluginGateway, p = '/profiles/7') => g.handle({ method: 'GET', path: p });

describe('catalog entries cannot write outside the cache', () => {
  it('an entry with a bare ".." file is refused and nothing is written outside the cache', async () => {
    const cacheDir = freshCache();
    const parent = path.dirname(cacheDir);
    mkdirSync(cacheDir, { recursive: true });
    const registry = new MemoryRegistry();
    const evil = withFiles(profiles, { ...profiles.files, '..': b64('owned') });
    const { gateway: g, errors } = await watching(registry, { env: 'prod', cacheDir });
    await registry.publish('prod', evil);
    await until(() => errors.length === 1, 'catalog:error');
    expect(errors[0]!.error).toBeInstanceOf(CatalogInvalidError);
    expect(errors[0]!.error.message).toContain(
      'file path ".." names the plugin\'s folder or leaves it',
    );
    expect(g.get('profiles')).toBeUndefined();
    expect(statSync(cacheDir).isDirectory()).toBe(true);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(readdirSync(parent)).toEqual(['cache']);
  });

  it.each([
    ['.', 'names the plugin'],
    ['a/../../escape.js', 'leaves it'],
    ['lib/..', 'leaves it'],
    ['./index2.js', 'names the plugin'],
    ['', 'is empty'],
    ['a//b.js', 'empty segment'],
    ['lib/', 'empty segment'],
    ['/etc/cron.d/x', 'is absolute'],
    ['..\\..\\x.js', 'backslash'],
    ['a\u0000.js', 'control character'],
    ['C:x.js', 'colon'],
    ['index.js:stream', 'colon'],
    ['cafe\u0301.js', 'normal form C'],
    ['trailing.', 'dot or a space'],
    ['CON.js', 'reserves for a device'],
    ['INDEX.JS', 'differs only in case'],
    ['index.js/x.js', 'lies under another file'],
  ])('refuses the file path %j before writing anything', async (file, why) => {
    const cacheDir = freshCache();
    const entry = withFiles(profiles, { ...profiles.files, [file]: b64('x') });
    const error = await unpackPlugin(entry, cacheDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatalogInvalidError);
    expect((error as Error).message).toContain(why);
    expect(existsSync(path.dirname(cacheDir))).toBe(false);
  });

  it('refuses entries whose fields are not what they claim (the registry is not trusted)', async () => {
    const cacheDir = freshCache();
    for (const bad of [
      { ...profiles, name: '../../x' },
      { ...profiles, version: 'latest' },
      { ...profiles, hash: 'sha256-../../x' },
      { ...profiles, files: 'index.js' },
      { ...profiles, files: { ...profiles.files, 'index.js': 42 } },
    ]) {
      await expect(unpackPlugin(bad as unknown as CatalogEntry, cacheDir)).rejects.toBeInstanceOf(
        CatalogInvalidError,
      );
    }
    expect(existsSync(path.dirname(cacheDir))).toBe(false);
  });
});

describe('a cached folder is checked before every load', () => {
  it('a cache changed on disk is unpacked again from the entry, and said so', async () => {
    const cacheDir = freshCache();
    const registry = new MemoryRegistry();
    await registry.publish('prod', profiles);
    let w = await watching(registry, { env: 'prod', cacheDir });
    await until(async () => (await get(w.gateway)).statusCode === 200, 'profiles to serve');
    await w.gateway.stop();
    gateway = undefined;

    const [folder] = readdirSync(cacheDir);
    const dir = path.join(cacheDir, folder!);
    writeFileSync(
      path.join(dir, 'index.js'),
      "import { definePlugin } from '@veza/plugin-gateway/sdk';\n" +
        "export default definePlugin({ routes: { 'GET /profiles/{id}': () => ({ statusCode: 418, body: 'tampered' }) } });\n",
    );
    writeFileSync(path.join(dir, '.hidden.js'), 'extra');

    w = await watching(registry, { env: 'prod', cacheDir });
    await until(() => w.gateway.get('profiles')?.status === 'active', 'profiles to load again');
    const response = await get(w.gateway);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatchObject({ id: '7' });
    expect(existsSync(path.join(dir, '.hidden.js'))).toBe(false);
    expect(w.logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'catalog: the cached folder no longer matched its hash; unpacked again',
        dir,
      }),
    );
  });

  it('reuses an intact cached folder as it is', async () => {
    const cacheDir = freshCache();
    const first = await unpackPlugin(profiles, cacheDir);
    const mtime = statSync(path.join(first, 'index.js')).mtimeMs;
    let told = false;
    const again = await unpackPlugin(profiles, cacheDir, { onTampered: () => (told = true) });
    expect(again).toBe(first);
    expect(told).toBe(false);
    expect(statSync(path.join(first, 'index.js')).mtimeMs).toBe(mtime);
  });
});

describe('signed artifacts (watch.trustedKeys)', () => {
  const trustedKeys = [publisher.publicKey.export({ type: 'spki', format: 'pem' }) as string];

  it('loads an entry signed by a trusted key', async () => {
    const registry = new MemoryRegistry();
    const signed = await packPlugin(fixture('profiles'), {
      signingKey: publisher.privateKey,
      env: 'prod',
    });
    expect(signed.signature).toMatchObject({
      keyId: expect.stringMatching(/^ed25519:[0-9a-f]{32}$/),
    });
    const w = await watching(registry, { env: 'prod', cacheDir: freshCache(), trustedKeys });
    await registry.publish('prod', signed);
    await until(async () => (await get(w.gateway)).statusCode === 200, 'profiles to serve');
    expect(w.errors).toEqual([]);
    expect(w.logger.lines.some((l) => /not verified/.test(l.msg ?? ''))).toBe(false);
  });

  it.each([
    ['unsigned', async () => profiles, 'it is not signed'],
    [
      'signed by a key it does not trust',
      () => packPlugin(fixture('profiles'), { signingKey: stranger.privateKey, env: 'prod' }),
      'which is not a trusted key',
    ],
    [
      'changed after signing (files, hash computed again)',
      async () => {
        const signed = await packPlugin(fixture('profiles'), {
          signingKey: publisher.privateKey,
          env: 'prod',
        });
        const files = { ...signed.files, 'index.js': b64('process.exit(1)') };
        return { ...signed, files, hash: hashFiles(files) };
      },
      'does not match its name, version, environment and hash',
    ],
    [
      'changed after signing (files only)',
      async () => {
        const signed = await packPlugin(fixture('profiles'), {
          signingKey: publisher.privateKey,
          env: 'prod',
        });
        return { ...signed, files: { ...signed.files, 'index.js': b64('process.exit(1)') } };
      },
      'do not match its hash',
    ],
    [
      'another signed entry\u2019s signature',
      async () => {
        const other = await packPlugin(fixture('echo'), {
          signingKey: publisher.privateKey,
          env: 'prod',
        });
        return { ...profiles, signature: other.signature };
      },
      'does not match its name, version, environment and hash',
    ],
  ])('refuses an entry %s, with catalog:error', async (_, make, why) => {
    const registry = new MemoryRegistry();
    const w = await watching(registry, { env: 'prod', cacheDir: freshCache(), trustedKeys });
    await registry.publish('prod', await make());
    await until(() => w.errors.length === 1, 'catalog:error');
    expect(w.errors[0]!.error.message).toContain(why);
    if (why !== 'do not match its hash') {
      expect(w.errors[0]!.error).toBeInstanceOf(ArtifactSignatureError);
      expect(w.errors[0]!.error).toMatchObject({ code: 'PGW_ERR_ARTIFACT_SIGNATURE' });
    }
    expect(w.gateway.get('profiles')).toBeUndefined();
  });

  it('keeps the signed version running when an unsigned newer one is published over it', async () => {
    const registry = new MemoryRegistry();
    const signed = await packPlugin(fixture('profiles'), {
      signingKey: publisher.privateKey,
      env: 'prod',
    });
    await registry.publish('prod', signed);
    const w = await watching(registry, { env: 'prod', cacheDir: freshCache(), trustedKeys });
    await until(async () => (await get(w.gateway)).statusCode === 200, 'profiles to serve');
    const manifest = profiles.manifest.replace('version: 1.2.0', 'version: 9.0.0');
    await registry.publish('prod', {
      ...withFiles(profiles, { ...profiles.files, 'plugin.yaml': b64(manifest) }),
      version: '9.0.0',
      manifest,
    });
    await until(() => w.errors.length === 1, 'catalog:error');
    expect(w.errors[0]).toMatchObject({ name: 'profiles', version: '9.0.0' });
    expect(w.gateway.get('profiles')?.version).toBe('1.2.0');
    expect((await get(w.gateway)).statusCode).toBe(200);
  });

  it('hashes file boundaries: one file holding "name\\0content" is not the same entry as two files', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const two = { 'a.txt': b64('PNG'), 'evil.js': b64('export default 1') };
    const one = { 'a.txt': b64('PNG\0evil.js\0export default 1') };
    expect(hashFiles(one)).not.toBe(hashFiles(two));
    // A signature covers the hash, so it cannot be carried from one file set to the other.
  });

  it('refuses trusted keys that are not Ed25519 public keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(
      () => new PluginGateway({ logger: false, watch: { env: 'prod', trustedKeys: [rsa] } }),
    ).toThrow(/watch\.trustedKeys\.0.*Ed25519/);
    expect(
      () =>
        new PluginGateway({ logger: false, watch: { env: 'prod', trustedKeys: ['not a key'] } }),
    ).toThrow(/watch\.trustedKeys\.0/);
  });

  it('without trusted keys, loads unsigned entries as before and warns that they are not verified', async () => {
    const registry = new MemoryRegistry();
    await registry.publish('prod', profiles);
    const w = await watching(registry, { env: 'prod', cacheDir: freshCache() });
    await until(async () => (await get(w.gateway)).statusCode === 200, 'profiles to serve');
    expect(w.logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringContaining('catalog: entries are not verified (no watch.trustedKeys)'),
      }),
    );
  });
});

describe.runIf(haveEtcd)('signed artifacts through a real etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  }, 20_000);
  afterAll(() => etcd?.destroy());

  it('a signed entry survives the store and loads; an unsigned one published beside it is refused', async () => {
    const trustedKeys = [publisher.publicKey];
    const publisherRegistry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'signed' });
    const errors: { version: string; error: Error }[] = [];
    gateway = new PluginGateway({
      logger: false,
      registry: new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'signed' }),
      watch: { env: 'prod', cacheDir: freshCache(), trustedKeys },
    });
    gateway.on('catalog:error', (e) => void errors.push(e));
    try {
      await gateway.start();
      await publisherRegistry.publish(
        'prod',
        await packPlugin(fixture('profiles'), { signingKey: publisher.privateKey, env: 'prod' }),
      );
      await until(async () => (await get(gateway!)).statusCode === 200, 'profiles to serve');
      await publisherRegistry.publish('prod', await packPlugin(fixture('echo')));
      await until(() => errors.length === 1, 'catalog:error');
      expect(errors[0]!.error).toMatchObject({ code: 'PGW_ERR_ARTIFACT_SIGNATURE' });
      expect(gateway.get('echo')).toBeUndefined();
    } finally {
      await publisherRegistry.close();
    }
  });
});
