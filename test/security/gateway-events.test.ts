import { describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';

describe('the gateway events', () => {
  it('can be listened to by any holder of the gateway, but emitted only by the gateway', async () => {
    const gateway = new PluginGateway({ logger: false });
    const seen: string[] = [];
    const listener = (info: { name: string }) => void seen.push(info.name);
    gateway.on('plugin:unloaded', listener).off('plugin:unloaded', listener);
    gateway.once('plugin:status', (info) => void seen.push(info.status));
    expect('emit' in gateway).toBe(false);
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(gateway))).not.toContain('emit');
    await gateway.stop();
    expect(seen).toEqual([]);
  });
});
