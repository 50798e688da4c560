/**
 * The registry contract suite: every adapter (memory, etcd, Consul) runs these same tests, as Hono runs
 * one router suite against every router.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  resolveInstances,
  type CatalogChange,
  type CatalogEntry,
  type DiscoveryRegistry,
  type InstanceRecord,
  type RegistryChange,
} from '../../src/registry/registry.js';

export interface ContractSubject {
  /** Two clients of one store (the same object for memory). */
  a: DiscoveryRegistry;
  b: DiscoveryRegistry;
  /** A TTL short enough to wait past in a test. */
  ttlMs: number;
  cleanup(): Promise<void>;
}

export const record = (id: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  id,
  service: 'recs',
  version: '1.0.0',
  nodeId: 'n1',
  address: 'http://127.0.0.1:1',
  endpoints: [{ path: '/recs', method: 'GET', auth: 'none', roles: [] }],
  status: 'active',
  metadata: { team: 'ml' },
  ...over,
});

export const entry = (name: string, version: string): CatalogEntry => ({
  name,
  version,
  manifest: `name: ${name}\nversion: ${version}\n`,
  files: { 'index.js': Buffer.from('export default {}').toString('base64') },
  hash: `sha256-${'0'.repeat(64)}`,
  publishedAt: new Date(0).toISOString(),
});

export async function until<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ids = (records: InstanceRecord[]) => records.map((r) => r.id).sort();

export function registryContract(
  name: string,
  create: () => Promise<ContractSubject>,
  options: { separateClients: boolean },
): void {
  describe(`registry contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const open = async () => (subject = await create());
    afterEach(async () => {
      await subject?.cleanup();
      subject = undefined;
    });

    it('registers, lists by service, replaces, and deregisters', async () => {
      const { a, b } = await open();
      await a.register(record('r1'));
      await a.register(record('o1', { service: 'other' }));
      expect(ids(await b.list('recs'))).toEqual(['r1']);
      expect(ids(await b.list())).toEqual(['o1', 'r1']);
      await a.register(record('r1', { status: 'degraded' as InstanceRecord['status'] }));
      expect((await b.list('recs'))[0]).toMatchObject({
        id: 'r1',
        status: 'degraded',
        endpoints: [{ path: '/recs', method: 'GET' }],
        metadata: { team: 'ml' },
        address: 'http://127.0.0.1:1',
      });
      await a.deregister('r1');
      await a.deregister('never-registered');
      expect(ids(await b.list())).toEqual(['o1']);
    });

    it('resolves a service by semver range, newest first, active only', async () => {
      const { a, b } = await open();
      await a.register(record('v12', { version: '1.2.0' }));
      await a.register(record('v15', { version: '1.5.0' }));
      await a.register(record('v20', { version: '2.0.0' }));
      await a.register(record('v16', { version: '1.6.0', status: 'loading' }));
      expect((await resolveInstances(b, 'recs', '^1.0')).map((r) => r.id)).toEqual(['v15', 'v12']);
      expect((await resolveInstances(b, 'recs', '>=2')).map((r) => r.id)).toEqual(['v20']);
      expect(await resolveInstances(b, 'recs', '^3')).toEqual([]);
      expect(await resolveInstances(b, 'nothing')).toEqual([]);
    });

    it('tells a watcher what is there, then every put and delete', async () => {
      const { a, b } = await open();
      await a.register(record('before'));
      const changes: RegistryChange[] = [];
      const unwatch = b.watch((c) => changes.push(c));
      await until(() => changes.length >= 1, 'the initial put');
      await a.register(record('after', { service: 'other' }));
      await a.deregister('before');
      await until(() => changes.length >= 3, 'three changes');
      unwatch();
      expect(
        changes.map((c) => (c.type === 'put' ? `put ${c.instance.id}` : `delete ${c.id}`)),
      ).toEqual(['put before', 'put after', 'delete before']);
      expect(changes[2]).toEqual({ type: 'delete', id: 'before', service: 'recs' });
      await a.register(record('unwatched'));
      await new Promise((r) => setTimeout(r, 200));
      expect(changes).toHaveLength(3);
    });

    it('keeps a record alive past its TTL while the registry is open', async () => {
      const { a, b, ttlMs } = await open();
      await a.register(record('kept'), { ttl: ttlMs });
      await new Promise((r) => setTimeout(r, ttlMs * 2.5));
      expect(ids(await b.list())).toEqual(['kept']);
    });

    // Memory has one client: closing it closes the store itself.
    if (options.separateClients)
      it('withdraws its instances when closed', async () => {
        const { a, b } = await open();
        await a.register(record('mine'));
        const changes: RegistryChange[] = [];
        b.watch((c) => changes.push(c));
        await until(() => changes.length === 1, 'the initial put');
        await a.close();
        await until(() => changes.length === 2, 'the delete');
        expect(changes[1]).toMatchObject({ type: 'delete', id: 'mine' });
        expect(await b.list()).toEqual([]);
      });

    it('refuses a record whose version is not semver', async () => {
      const { a } = await open();
      await expect(a.register(record('bad', { version: 'latest' }))).rejects.toThrow(
        /version "latest" is not a semver version/,
      );
    });

    it('publishes versions to an environment, lists and withdraws them, and tells watchers', async () => {
      const { a, b } = await open();
      await a.publish('staging', entry('recs', '1.0.0'));
      const changes: CatalogChange[] = [];
      const unwatch = b.watchCatalog('staging', (c) => changes.push(c));
      await until(() => changes.length === 1, 'the initial put');
      await a.publish('staging', entry('recs', '1.1.0'));
      await a.publish('production', entry('recs', '0.9.0'));
      await a.unpublish('staging', 'recs', '1.0.0');
      await a.unpublish('staging', 'recs', '9.9.9');
      await until(() => changes.length === 3, 'three changes');
      unwatch();
      expect(
        changes.map((c) =>
          c.type === 'put'
            ? `put ${c.entry.name}@${c.entry.version}`
            : `delete ${c.name}@${c.version}`,
        ),
      ).toEqual(['put recs@1.0.0', 'put recs@1.1.0', 'delete recs@1.0.0']);
      expect(changes[1]).toMatchObject({ type: 'put', entry: entry('recs', '1.1.0') });
      expect((await b.catalog('staging')).map((e) => e.version)).toEqual(['1.1.0']);
      expect((await b.catalog('production')).map((e) => e.version)).toEqual(['0.9.0']);
      expect(await b.catalog('empty')).toEqual([]);
      await expect(a.publish('no spaces', entry('recs', '1.0.0'))).rejects.toThrow(/environment/);
    });
  });
}
