/**
 * Class D of issue 23, the catalog (The Update Framework's mix-and-match and rollback attacks), through a
 * real etcd: an entry signed for staging and copied under prod is refused; deleting the newest version
 * and re-putting an older signed one does not move a gateway back, not even after a restart when the
 * operator keeps the version floor in a file.
 */
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, packPlugin, type CatalogEntry } from '../../src/index.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');
// Inside the repository, so that unpacked plugins resolve @veza/plugin-gateway/sdk.
const scratch = path.resolve(import.meta.dirname, '../.catalog-cache', `${process.pid}-trust`);
let n = 0;
const fresh = (what: string) => path.join(scratch, `${what}-${n++}`);
const publisher = generateKeyPairSync('ed25519');
const trustedKeys = [publisher.publicKey];

/** The profiles fixture at `version`, signed for `env`. */
async function profilesAt(version: string, env: string): Promise<CatalogEntry> {
  const dir = fresh(`profiles-${version}`);
  await cp(fixture('profiles'), dir, { recursive: true });
  const manifest = path.join(dir, 'plugin.yaml');
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(/^version: .*$/m, `version: ${version}`),
  );
  return packPlugin(dir, { signingKey: publisher.privateKey, env });
}

describe.runIf(haveEtcd)('the catalog, as someone who can write to etcd', () => {
  let etcd: EtcdServer;
  let publisherRegistry: EtcdRegistry;
  const gateways: PluginGateway[] = [];
  const registries: EtcdRegistry[] = [];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    await mkdir(scratch, { recursive: true });
  }, 20_000);
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    await Promise.all(registries.splice(0).map((r) => r.close()));
    await publisherRegistry?.close();
  });
  afterAll(async () => {
    await etcd?.destroy();
    await rm(scratch, { recursive: true, force: true });
  });

  async function watching(namespace: string, floorFile?: string) {
    const errors: { name: string; version: string; error: Error }[] = [];
    const registry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace });
    registries.push(registry);
    const gateway = new PluginGateway({
      logger: false,
      registry,
      watch: {
        env: 'prod',
        cacheDir: fresh('cache'),
        trustedKeys,
        ...(floorFile ? { floorFile } : {}),
      },
    });
    gateway.on('catalog:error', (e) => void errors.push(e));
    gateways.push(gateway);
    await gateway.start();
    return { gateway, errors };
  }

  it('refuses an entry signed for staging that is copied under prod', async () => {
    publisherRegistry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'mix' });
    const { gateway, errors } = await watching('mix');
    await publisherRegistry.publish('prod', await profilesAt('1.2.0', 'staging'));
    await until(() => errors.length === 1, 'catalog:error');
    expect(errors[0]!.error).toMatchObject({ code: 'PGW_ERR_ARTIFACT_SIGNATURE' });
    expect(errors[0]!.error.message).toContain('signed for environment "staging", not "prod"');
    expect(gateway.get('profiles')).toBeUndefined();
    // The same signature with the environment edited in the entry does not verify either.
    const edited = await profilesAt('1.2.1', 'staging');
    edited.signature = { ...edited.signature!, env: 'prod' };
    await publisherRegistry.publish('prod', edited);
    await until(() => errors.length === 2, 'a second catalog:error');
    expect(errors[1]!.error.message).toContain('does not match');
    expect(gateway.get('profiles')).toBeUndefined();
    // Signed for prod, it runs.
    await publisherRegistry.publish('prod', await profilesAt('1.2.2', 'prod'));
    await until(() => gateway.get('profiles')?.status === 'active', 'the prod entry to run');
  });

  it('does not move back when the newest version is deleted and an older one re-put, even after a restart', async () => {
    publisherRegistry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'rollback' });
    const floorFile = path.join(fresh('floor'), 'floor.json');
    await mkdir(path.dirname(floorFile), { recursive: true });
    const older = await profilesAt('1.2.0', 'prod');
    const newer = await profilesAt('1.3.0', 'prod');
    await publisherRegistry.publish('prod', newer);
    const first = await watching('rollback', floorFile);
    await until(() => first.gateway.get('profiles')?.version === '1.3.0', '1.3.0 to run');
    await until(async () => {
      const text = await readFile(floorFile, 'utf8').catch(() => '');
      return text.includes('1.3.0');
    }, 'the floor file');

    await publisherRegistry.publish('prod', older);
    await publisherRegistry.unpublish('prod', 'profiles', '1.3.0');
    await until(() => first.errors.length === 1, 'catalog:error');
    expect(first.errors[0]!.error.message).toContain('older than 1.3.0');
    expect(first.gateway.get('profiles')?.version).toBe('1.3.0');
    await first.gateway.stop();
    gateways.length = 0;

    const restarted = await watching('rollback', floorFile);
    await until(() => restarted.errors.length === 1, 'catalog:error after the restart');
    expect(restarted.errors[0]!.error.message).toContain('older than 1.3.0');
    expect(restarted.gateway.get('profiles')).toBeUndefined();

    // Without the file, a restarted gateway forgets: that is what the file is for.
    const forgetful = await watching('rollback');
    await until(() => forgetful.gateway.get('profiles')?.version === '1.2.0', 'it loads 1.2.0');
  });

  it('refuses to start with a floor file that is not one, naming the file and the field', async () => {
    const floorFile = path.join(fresh('floor'), 'floor.json');
    await mkdir(path.dirname(floorFile), { recursive: true });
    await writeFile(floorFile, JSON.stringify({ version: 1, floors: { prod: { profiles: 'x' } } }));
    const make = () =>
      new PluginGateway({ logger: false, watch: { env: 'prod', trustedKeys, floorFile } });
    expect(make).toThrow(/floor\.json: floors\.prod\.profiles: expected a semver version/);
    await writeFile(floorFile, '{');
    expect(make).toThrow(expect.objectContaining({ code: 'PGW_ERR_INVALID_ARGUMENT' }));
  });
});
