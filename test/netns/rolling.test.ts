/**
 * A catalog deploy during a partition, on test hosts: gateways a and b watch the same environment with
 * rolling rollouts (a gateway swaps once every gateway with a smaller node id runs the new version); b is
 * cut off from etcd when v2 is published. The stated outcome: a moves to v2, b keeps serving the verified
 * v1 it has (never nothing, never an unverified version) and moves to v2 once it sees etcd again.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/index.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { findBinary } from '../services/common.js';
import { writeVersion } from '../swap-helpers.js';
import { EtcdCluster, send, startGatewayHost, waitUntil, type GatewayHost } from './fleet-hosts.js';
import { netnsUnavailable, TestNetwork } from './network.js';

const unavailable =
  netnsUnavailable() ?? (findBinary('etcd') ? undefined : 'etcd is not installed');
if (unavailable && process.env.PGW_REQUIRE_SERVICES) {
  throw new Error(
    `the rolling deploy test needs test hosts (PGW_REQUIRE_SERVICES is set): ${unavailable}`,
  );
}

describe.skipIf(unavailable)('a rolling catalog deploy across a partition', () => {
  const work = path.resolve(import.meta.dirname, '..', `.catalog-cache/netns-${process.pid}`);
  let network: TestNetwork;
  let etcd: EtcdCluster;
  let registry: EtcdRegistry;
  const gateways: GatewayHost[] = [];
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  const versionOn = async (gateway: GatewayHost): Promise<string | undefined> => {
    const answer = await send(`${gateway.url}/sw/ping`, 'GET', 2000);
    return answer.status === 200 ? (answer.body as { version: string }).version : undefined;
  };

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    const keyFile = path.join(work, 'publisher.pem');
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    network = TestNetwork.create(['e1', 'e2', 'e3', 'a', 'b']);
    etcd = new EtcdCluster(network, ['e1', 'e2', 'e3']);
    for (const name of etcd.names) etcd.start(name);
    await waitUntil(() => etcd.leader(), 20_000);
    registry = new EtcdRegistry({
      endpoints: etcd.endpoints,
      namespace: 'netns',
      environment: 'rollout',
    });
    await registry.publish(
      'rollout',
      await packPlugin(writeVersion('1.0.0'), { signingKey: privateKey, env: 'rollout' }),
    );
    const env = {
      WATCH_ENV: 'rollout',
      CACHE_DIR: path.join(work, 'cache'),
      TRUSTED_KEY_FILE: keyFile,
      ROLLING: '1',
      TTL: '3s',
    };
    gateways.push(
      ...(await Promise.all(['a', 'b'].map((name) => startGatewayHost(network, name, etcd, env)))),
    );
    for (const gateway of gateways)
      await waitUntil(async () => (await versionOn(gateway)) === '1.0.0', 30_000);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await registry?.close();
    await etcd?.destroy();
    await network?.destroy();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('the side that sees etcd moves to v2; the cut-off gateway keeps v1, then follows after the heal', async () => {
    const [a, b] = gateways as [GatewayHost, GatewayHost];
    network.partition(['b'], ['e1', 'e2', 'e3']);
    await registry.publish(
      'rollout',
      await packPlugin(writeVersion('2.0.0'), { signingKey: privateKey, env: 'rollout' }),
    );
    const moved = await waitUntil(async () => (await versionOn(a)) === '2.0.0', 30_000);
    // b never stops serving: what it runs is the verified v1, for as long as it cannot see the catalog.
    for (let i = 0; i < 10; i++) {
      expect(await versionOn(b)).toBe('1.0.0');
      await new Promise((r) => setTimeout(r, 200));
    }
    network.heal();
    const followed = await waitUntil(async () => (await versionOn(b)) === '2.0.0', 40_000);
    expect(await versionOn(a)).toBe('2.0.0');
    console.info(
      `rolling deploy during a partition: a on v2 ${Math.round(moved.ms)} ms after the publish; b kept v1 while cut off, on v2 ${Math.round(followed.ms)} ms after the heal`,
    );
  }, 120_000);
});
