import { describe, expect, it } from 'vitest';
import { MemoryRegistry } from './memory.js';
import { registryContract } from '../../test/registry/contract.js';

registryContract(
  'memory',
  async () => {
    const registry = new MemoryRegistry();
    return { a: registry, b: registry, ttlMs: 50, cleanup: () => registry.close() };
  },
  { separateClients: false },
);

describe('MemoryRegistry', () => {
  it('is unusable once closed', async () => {
    const registry = new MemoryRegistry();
    await registry.close();
    await expect(registry.list()).rejects.toMatchObject({ code: 'PGW_ERR_GATEWAY_STOPPED' });
  });
});
