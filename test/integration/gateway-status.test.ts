/**
 * What a gateway watching a catalog writes in its status record when it refuses an entry: a tampered
 * one (hash mismatch) and one signed by a key it does not trust, each with the entry's hash and the
 * error's code, sealed with the fleet secret; and the record goes when the gateway stops.
 */
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openGatewayStatus } from '../../src/fleet/gateway-status.js';
import { MemoryRegistry, PluginGateway, packPlugin } from '../../src/index.js';
import type { GatewayStatusRecord } from '../../src/registry/registry.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

const cacheDir = path.resolve(import.meta.dirname, '../.catalog-cache', `${process.pid}-status`);
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('gateway status record', () => {
  it('lists each refused entry with its hash and code, sealed, and is withdrawn at stop()', async () => {
    const secret = 'the-status-record-fleet-secret';
    const trusted = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519');
    const registry = new MemoryRegistry();
    const gateway = new PluginGateway({
      logger: false,
      registry,
      node: { id: 'gw-s', address: 'http://127.0.0.1:1', secret },
      watch: { env: 'staging', cacheDir, trustedKeys: [trusted.publicKey] },
    });
    await gateway.start();
    const signed = await packPlugin(fixture('echo'), {
      signingKey: trusted.privateKey,
      env: 'staging',
    });
    // Files changed after signing: the hash no longer matches them.
    const tampered = {
      ...signed,
      files: { ...signed.files, 'index.js': Buffer.from('export default {}').toString('base64') },
    };
    await registry.publish('staging', tampered);
    const other = await packPlugin(fixture('profiles'), {
      signingKey: stranger.privateKey,
      env: 'staging',
    });
    await registry.publish('staging', other);

    const record = await until(async () => {
      const [value] = await registry.gateways();
      const opened = openGatewayStatus(value, secret);
      return 'record' in opened && opened.record.refusals.length === 2 ? opened.record : undefined;
    }, 'two refusals in the status record');
    if (!record) throw new Error('unreachable');
    const byName = Object.fromEntries(record.refusals.map((r) => [r.name, r]));
    expect(record).toMatchObject<Partial<GatewayStatusRecord>>({
      nodeId: 'gw-s',
      environment: 'default',
      watch: 'staging',
    });
    expect(byName['echo']).toMatchObject({ version: '1.0.0', hash: tampered.hash });
    expect(byName['echo']!.reason).toMatch(/^PGW_ERR_\w+ .*hash/);
    expect(byName['profiles']).toMatchObject({ hash: other.hash });
    expect(byName['profiles']!.reason).toMatch(/^PGW_ERR_ARTIFACT_SIGNATURE /);
    // Not believed by anyone without the secret, nor under another one.
    expect(
      openGatewayStatus((await registry.gateways())[0], 'another-fleet-secret-16'),
    ).toHaveProperty('refused');

    await gateway.stop();
    expect(await registry.gateways()).toEqual([]);
    await registry.close();
  });
});
