import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulRegistry } from '../../src/registry/consul.js';
import type { RegistryChange } from '../../src/registry/registry.js';
import { entry, record, registryContract, until } from '../registry/contract.js';
import { spawnOwner } from '../registry/spawn-owner.js';
import { ConsulStandIn } from '../services/consul-standin.js';

// A real agent when CONSUL_HTTP_ADDR is set (host:port); otherwise the stand-in (no Consul package here).
const real = process.env.CONSUL_HTTP_ADDR?.replace(/^https?:\/\//, '');
const scheme = process.env.CONSUL_HTTP_ADDR?.startsWith('https://') ? 'https' : 'http';

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
    new ConsulRegistry({ host, port, scheme, namespace, ttl: '1s', wait: '2s', ...over });

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

// Consul with ACLs on: every call the registry makes (register, check pass, KV, health, blocking
// queries) carries its `token`; without it the agent refuses and the registry says so with a code.
describe.runIf(!real)(
  'ConsulRegistry with an ACL token (stand-in agent, default policy deny)',
  () => {
    const token = 'b3a0c2f4-acl-token-of-the-fleet';
    let agent: ConsulStandIn;
    beforeAll(async () => {
      agent = await ConsulStandIn.start(0, { aclToken: token });
    });
    afterAll(() => agent?.stop());

    it('with the token: registers, passes its check, lists, watches and publishes, and is never refused', async () => {
      const opts = { host: '127.0.0.1', port: agent.port, namespace: 'acl', ttl: '1s', wait: '1s' };
      const a = new ConsulRegistry({ ...opts, token });
      const b = new ConsulRegistry({ ...opts, token });
      try {
        const seen: string[] = [];
        b.watch((c) => c.type === 'put' && seen.push(c.instance.id));
        await a.register(record('p@1.0.0#gw-a.1', { service: 'p' }));
        await until(() => seen.includes('p@1.0.0#gw-a.1'), 'the watch through blocking queries');
        // Past two TTLs: the check was passed with the token, so the instance is still listed.
        await new Promise((r) => setTimeout(r, 2200));
        expect((await b.list('p')).map((r) => r.id)).toEqual(['p@1.0.0#gw-a.1']);
        await a.publish('staging', entry('p', '1.0.0'));
        expect((await b.catalog('staging')).map((e) => e.version)).toEqual(['1.0.0']);
        await a.deregister('p@1.0.0#gw-a.1');
        expect(await b.list('p')).toEqual([]);
        expect(agent.refused).toBe(0);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('without it: register and list fail with PGW_ERR_REGISTRY, naming the 403', async () => {
      const anonymous = new ConsulRegistry({
        host: '127.0.0.1',
        port: agent.port,
        namespace: 'acl',
      });
      try {
        await expect(
          anonymous.register(record('q@1.0.0#gw-b.1', { service: 'q' })),
        ).rejects.toMatchObject({
          code: 'PGW_ERR_REGISTRY',
          message: expect.stringContaining('403'),
        });
        await expect(anonymous.list()).rejects.toMatchObject({ code: 'PGW_ERR_REGISTRY' });
        expect(agent.refused).toBeGreaterThan(0);
      } finally {
        await anonymous.close();
      }
    });
  },
);
