import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway, PluginInfo } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('gateway.disable() / enable()', () => {
  it('keeps the plugin loaded while its endpoints answer 503 and it gets no events', async () => {
    gateway = await gatewayWith(['events']);
    const changes: [PluginInfo, string | undefined][] = [];
    gateway.on('plugin:status', (info, previous) => changes.push([info, previous]));
    const info = gateway.disable('events');
    expect(info).toMatchObject({ name: 'events', status: 'active', disabled: true });
    expect(gateway.disable('events')).toBe(gateway.get('events')); // twice: nothing more happens
    expect(changes).toHaveLength(1);
    expect(changes[0]).toEqual([info, 'active']);
    const refused = await gateway.handle({ method: 'GET', path: '/events/seen' });
    expect(refused.statusCode).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'PGW_ERR_PLUGIN_DISABLED' } });
    const published = await gateway.publish({ type: 'track.played', payload: {} });
    expect(published.delivered).toEqual([]);
    expect(published.failed).toEqual([
      { plugin: 'events', code: 'PGW_ERR_PLUGIN_DISABLED', message: 'plugin "events" is disabled' },
    ]);
    expect(gateway.metrics('events').threads).toBeGreaterThan(0);

    expect(gateway.enable('events').disabled).toBeUndefined();
    expect((await gateway.handle({ method: 'GET', path: '/events/seen' })).statusCode).toBe(200);
    expect((await gateway.publish({ type: 'track.played', payload: {} })).delivered).toEqual([
      'events',
    ]);
    expect(changes).toHaveLength(2);
  });

  it('throws PGW_ERR_PLUGIN_NOT_FOUND for a plugin that is not loaded', async () => {
    gateway = await gatewayWith([]);
    expect(() => gateway!.disable('nope')).toThrow(
      expect.objectContaining({ code: 'PGW_ERR_PLUGIN_NOT_FOUND' }),
    );
    expect(() => gateway!.enable('nope')).toThrow(
      expect.objectContaining({ code: 'PGW_ERR_PLUGIN_NOT_FOUND' }),
    );
  });
});
