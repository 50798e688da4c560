import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, packPlugin } from '../../src/index.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';
import { serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';

const cacheDir = path.resolve(import.meta.dirname, '../.catalog-cache', `etcd-${process.pid}`);
const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');

interface GatewayProcess {
  child: ChildProcess;
  address: string;
}

async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, '../fleet-process.ts')],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway ${env.NODE_ID} exited with ${code}`)));
  });
  return { child, address: (JSON.parse(line) as { address: string }).address };
}

/** GET over HTTP with a hard client-side limit, so a hang shows as a failure, not a stuck test. */
async function get(base: string, route: string) {
  const started = Date.now();
  const res = await fetch(base + route, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, ms: Date.now() - started };
}

describe.runIf(haveEtcd)('a fleet on etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  }, 20_000);
  afterAll(() => etcd?.destroy());

  it('three gateway processes: all serve a plugin one runs; its SIGKILLed owner drops out within the TTL, answered 503 meanwhile', async () => {
    const env = { ETCD: etcd.endpoint, NAMESPACE: 'three', TTL: '2s' };
    const gateways = await Promise.all([
      spawnGateway({ ...env, NODE_ID: 'g1', PLUGINS: 'profiles' }),
      spawnGateway({ ...env, NODE_ID: 'g2' }),
      spawnGateway({ ...env, NODE_ID: 'g3' }),
    ]);
    const [owner, g2, g3] = gateways as [GatewayProcess, GatewayProcess, GatewayProcess];
    try {
      for (const g of gateways) {
        await until(
          async () => (await get(g.address, '/profiles/1')).status === 200,
          `${g.address} to route`,
        );
        const res = await get(g.address, '/profiles/42');
        expect(res.body).toMatchObject({ id: '42', node: 'g1' });
      }
      owner.child.kill('SIGKILL');
      const killed = Date.now();
      const seen = new Set<number>();
      let gone = 0;
      while (Date.now() - killed < 10_000) {
        const [a, b] = await Promise.all([
          get(g2.address, '/profiles/1'),
          get(g3.address, '/profiles/1'),
        ]);
        for (const r of [a, b]) {
          seen.add(r.status);
          expect(r.ms, 'a request hung').toBeLessThan(2500);
        }
        if (a.status === 404 && b.status === 404) {
          gone = Date.now() - killed;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(gone, 'both stopped routing').toBeGreaterThan(0);
      // TTL 2 s; etcd revokes an expired lease within about half a second more.
      expect(gone).toBeLessThan(4500);
      expect([...seen].filter((s) => s !== 503 && s !== 404)).toEqual([]);
      expect(seen.has(503)).toBe(true);
      const after = await get(g2.address, '/profiles/1');
      expect(after.body).toMatchObject({ error: { code: 'PGW_ERR_NOT_FOUND' } });
    } finally {
      for (const g of gateways) g.child.kill('SIGKILL');
    }
  }, 40_000);

  it('a gateway watching an environment on etcd loads what another process publishes there', async () => {
    const publisher = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'catalog' });
    const watcher = new PluginGateway({
      logger: false,
      registry: new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'catalog' }),
      watch: { env: 'staging', cacheDir },
    });
    try {
      await watcher.start();
      await publisher.publish('staging', await packPlugin(fixture('profiles')));
      await until(() => watcher.get('profiles')?.status === 'active', 'profiles to be active');
      await publisher.unpublish('staging', 'profiles', '1.2.0');
      await until(() => watcher.get('profiles') === undefined, 'profiles to be unloaded');
    } finally {
      await watcher.stop();
      await publisher.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('a gateway watching through an etcd restart says so, re-lists, and routes what appeared meanwhile', async () => {
    const registry = () =>
      new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'restart', ttl: '5s' });
    const a: FleetNode = await startNode('ra', { registry: registry() });
    const b: FleetNode = await startNode('rb', { registry: registry() });
    const news: string[] = [];
    b.gateway.on('registry:error', () => news.push('error'));
    b.gateway.on('registry:reconnected', () => news.push('reconnected'));
    try {
      await etcd.stop();
      await until(() => news.includes('error'), 'registry:error');
      await etcd.restart();
      await until(() => news.includes('reconnected'), 'registry:reconnected', 20_000);
      await a.gateway.load(fixture('profiles'), { config: { node: 'ra' } });
      await until(
        async () =>
          (await b.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode === 200,
        'b to route profiles',
      );
      expect((await b.gateway.handle({ method: 'GET', path: '/profiles/1' })).body).toMatchObject({
        node: 'ra',
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 40_000);
});
