import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulRegistry } from '../../src/registry/consul.js';
import type { RegistryChange } from '../../src/registry/registry.js';
import { entry, registryContract, until } from '../registry/contract.js';
import { spawnOwner } from '../registry/spawn-owner.js';
import { ConsulStandIn } from '../services/consul-standin.js';

// A real agent when CONSUL_HTTP_ADDR is set (host:port); otherwise the stand-in (no Consul package here).
const real = process.env.CONSUL_HTTP_ADDR?.replace(/^https?:\/\//, '');

describe(`ConsulRegistry (${real ? `agent at ${real}` : 'stand-in agent'})`, () => {
  let standIn: ConsulStandIn | undefined;
  let host = '127.0.0.1';
  let port = 0;
  let seq = 0;
  beforeAll(async () => {
    if (real) {
      const [h, p] = real.split(':');
      host = h!;
      port = Number(p ?? 8500);
    } else {
      standIn = await ConsulStandIn.start();
      port = standIn.port;
    }
  });
  afterAll(() => standIn?.stop());

  const client = (namespace: string, over: Record<string, unknown> = {}) =>
    new ConsulRegistry({ host, port, namespace, ttl: '1s', wait: '2s', ...over });

  registryContract(
    'consul',
    async () => {
      const namespace = `t${++seq}-${process.pid}`;
      const a = client(namespace);
      const b = client(namespace);
      return {
        a,
        b,
        ttlMs: 1000,
        cleanup: async () => void (await Promise.all([a.close(), b.close()])),
      };
    },
    { separateClients: true },
  );

  it('drops the instance of an owner killed with SIGKILL once its TTL check goes critical', async () => {
    const namespace = `kill${++seq}-${process.pid}`;
    const b = client(namespace);
    const owner = await spawnOwner({ CONSUL_PORT: String(port), NAMESPACE: namespace });
    try {
      const changes: RegistryChange[] = [];
      b.watch((c) => changes.push(c));
      await until(() => changes.length === 1, 'the initial put');
      owner.kill('SIGKILL');
      const killed = Date.now();
      await until(() => changes.length === 2, 'the check to go critical', 10_000);
      expect(changes[1]).toMatchObject({ type: 'delete', id: 'owned' });
      expect(Date.now() - killed).toBeLessThan(5000);
    } finally {
      owner.kill('SIGKILL');
      await b.close();
    }
  });

  it.runIf(!real)(
    'reports a lost agent and comes back when it answers again',
    async () => {
      const namespace = `lost${++seq}`;
      const b = client(namespace);
      const news: string[] = [];
      try {
        await b.publish('staging', entry('p', '1.0.0'));
        const versions: string[] = [];
        b.watchCatalog('staging', (c) => c.type === 'put' && versions.push(c.entry.version), {
          onError: () => news.push('error'),
          onReconnected: () => news.push('reconnected'),
        });
        await until(() => versions.length === 1, 'the initial put');
        const kept = standIn!.kv;
        await standIn!.stop();
        await until(() => news.includes('error'), 'the error');
        standIn = await ConsulStandIn.start(port);
        for (const [k, v] of kept) standIn.kv.set(k, v);
        await until(() => news.includes('reconnected'), 'reconnected', 10_000);
        await b.publish('staging', entry('p', '1.1.0'));
        await until(() => versions.includes('1.1.0'), 'the new version');
      } finally {
        await b.close();
      }
    },
    20_000,
  );
});
