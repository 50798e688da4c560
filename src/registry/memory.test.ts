import { describe, expect, it } from 'vitest';
import { MemoryRegistry } from './memory.js';
import type { InstanceRecord, RegistryChange } from './registry.js';

const instance = (id: string, service = 'recs'): InstanceRecord => ({
  id,
  service,
  version: '1.0.0',
  nodeId: 'n1',
  endpoints: [],
  status: 'active',
  metadata: {},
});

describe('MemoryRegistry', () => {
  it('registers, lists by service, and deregisters, telling watchers', async () => {
    const registry = new MemoryRegistry();
    const changes: RegistryChange[] = [];
    const unwatch = registry.watch((c) => changes.push(c));
    await registry.register(instance('a'));
    await registry.register(instance('b', 'other'));
    expect((await registry.list('recs')).map((i) => i.id)).toEqual(['a']);
    expect((await registry.list()).map((i) => i.id)).toEqual(['a', 'b']);
    await registry.deregister('a');
    await registry.deregister('unknown');
    unwatch();
    await registry.register(instance('c'));
    expect(changes.map((c) => c.type)).toEqual(['put', 'put', 'delete']);
  });

  it('drops a record whose TTL ran out without renewal, and keeps one that was renewed', async () => {
    let now = 0;
    const registry = new MemoryRegistry({ now: () => now });
    await registry.register(instance('a'), { ttl: 1000 });
    await registry.register(instance('b'), { ttl: 1000 });
    now = 900;
    await registry.register(instance('b'), { ttl: 1000 });
    now = 1500;
    expect((await registry.list()).map((i) => i.id)).toEqual(['b']);
  });

  it('is unusable once closed', async () => {
    const registry = new MemoryRegistry();
    await registry.close();
    await expect(registry.list()).rejects.toMatchObject({ code: 'PGW_ERR_GATEWAY_STOPPED' });
  });
});
