import { describe, expect, it } from 'vitest';
import { MemoryRegistry, PluginGateway } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';

describe('refused peer calls', () => {
  it('cannot flood the log: the first 20 are logged, then one in 1000', async () => {
    const logger = memoryLogger();
    const gateway = new PluginGateway({
      logger,
      registry: new MemoryRegistry(),
      node: { id: 'gw-1', address: 'http://127.0.0.1:1', secret: 'fleet-secret-0123456789' },
    });
    const headers = { 'x-veza-node': 'stranger', 'x-veza-timestamp': String(Date.now()) };
    for (let i = 0; i < 2500; i++) {
      expect((await gateway.handlePeer('{}', headers, '203.0.113.7')).statusCode).toBe(401);
    }
    const logged = logger.lines.filter((l) => l.msg?.startsWith('peer call refused'));
    expect(logged.map((l) => l.refusals)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => i + 1),
      1000,
      2000,
    ]);
    await gateway.stop();
  });
});
