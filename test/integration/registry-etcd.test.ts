import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import type { RegistryChange } from '../../src/registry/registry.js';
import { entry, record, registryContract, until } from '../registry/contract.js';
import { spawnOwner } from '../registry/spawn-owner.js';
import { EtcdServer } from '../services/etcd.js';
import { serviceAvailable } from '../services/common.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');

describe.runIf(haveEtcd)('EtcdRegistry', () => {
  let etcd: EtcdServer;
  let seq = 0;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  }, 20_000);
  afterAll(() => etcd?.destroy());

  const pair = (namespace = `t${++seq}`) => ({
    a: new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttl: '1s' }),
    b: new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttl: '1s' }),
  });

  registryContract(
    'etcd',
    async () => {
      const { a, b } = pair();
      return {
        a,
        b,
        ttlMs: 1000,
        cleanup: async () => void (await Promise.all([a.close(), b.close()])),
      };
    },
    { separateClients: true },
  );

  it('keeps namespaces and environments apart', async () => {
    const a = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: 'iso',
      environment: 'staging',
    });
    const b = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'iso', environment: 'prod' });
    const c = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: 'other',
      environment: 'staging',
    });
    try {
      await a.register(record('s1'));
      expect(await b.list()).toEqual([]);
      expect(await c.list()).toEqual([]);
      expect((await a.list()).map((r) => r.id)).toEqual(['s1']);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('refuses a catalog entry above maxValueBytes, naming the limit', async () => {
    const a = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'big', maxValueBytes: 2000 });
    try {
      const big = { ...entry('huge', '1.0.0'), files: { 'a.js': 'x'.repeat(5000) } };
      await expect(a.publish('staging', big)).rejects.toMatchObject({
        code: 'PGW_ERR_ARTIFACT_TOO_LARGE',
        message: expect.stringMatching(/huge@1\.0\.0 is \d+ bytes.*at most 2000/),
      });
      expect(await a.catalog('staging')).toEqual([]);
    } finally {
      await a.close();
    }
  });

  it('drops the instances of an owner killed with SIGKILL once its lease expires', async () => {
    const namespace = `kill${++seq}`;
    const b = new EtcdRegistry({ endpoints: etcd.endpoint, namespace });
    const owner = await spawnOwner({ ETCD: etcd.endpoint, NAMESPACE: namespace });
    try {
      const changes: RegistryChange[] = [];
      b.watch((c) => changes.push(c));
      await until(() => changes.length === 1, 'the initial put');
      owner.kill('SIGKILL');
      const killed = Date.now();
      await until(() => changes.length === 2, 'the lease to expire', 10_000);
      expect(changes[1]).toMatchObject({ type: 'delete', id: 'owned' });
      // ttl 1s: etcd expires a lease between ttl and ttl + its check interval.
      expect(Date.now() - killed).toBeLessThan(8000);
    } finally {
      owner.kill('SIGKILL');
      await b.close();
    }
  });

  it('re-lists and goes on watching after etcd restarts, saying so', async () => {
    const { a, b } = pair();
    const changes: RegistryChange[] = [];
    const news: string[] = [];
    try {
      await a.register(record('r1'));
      b.watch((c) => changes.push(c), {
        onError: () => news.push('error'),
        onReconnected: () => news.push('reconnected'),
      });
      await until(() => changes.length === 1, 'the initial put');
      await etcd.stop();
      await until(() => news.includes('error'), 'registry error');
      await etcd.restart();
      await until(() => news.includes('reconnected'), 'reconnected', 20_000);
      await a.register(record('r2'));
      await until(() => changes.some((c) => c.type === 'put' && c.instance.id === 'r2'), 'r2');
      expect((await b.list()).map((r) => r.id).sort()).toEqual(['r1', 'r2']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 40_000);
});
