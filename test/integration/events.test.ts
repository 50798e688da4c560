import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get, memoryLogger } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('domain events', () => {
  it('delivers an event to the plugins that subscribe to its type, and only to them', async () => {
    gateway = await gatewayWith(['events', 'steady']);
    const result = await gateway.publish({
      type: 'track.played',
      payload: { trackId: 1 },
      userId: 456,
    });
    expect(result).toEqual({ id: expect.any(String), delivered: ['events'], failed: [] });
    expect((await gateway.publish({ type: 'user.followed', payload: {} })).delivered).toEqual([]);
    expect((await get(gateway, '/events/seen')).body).toEqual([
      { type: 'track.played', payload: { trackId: 1 }, source: null },
    ]);
    expect(gateway.metrics('events').event_count).toBe(1);
  });

  it('reports a subscriber that fails, without failing the others', async () => {
    gateway = await gatewayWith(['events']);
    const result = await gateway.publish({ type: 'track.skipped', payload: { fail: true } });
    expect(result.delivered).toEqual([]);
    expect(result.failed).toEqual([
      {
        plugin: 'events',
        code: 'PGW_ERR_PLUGIN_ERROR',
        message: expect.stringContaining('events'),
      },
    ]);
  });

  it('lets a plugin publish the types its manifest permits, and refuses the others', async () => {
    gateway = await gatewayWith(['events', 'badges']);
    const ok = await gateway.handle({
      method: 'POST',
      path: '/events/emit',
      body: { type: 'badge.awarded', payload: { badge: 'first-play' } },
    });
    expect(ok.statusCode).toBe(202);
    await until(async () => ((await get(gateway!, '/badges')).body as unknown[]).length > 0);
    expect((await get(gateway, '/badges')).body).toEqual([
      { badge: 'first-play', source: 'events' },
    ]);

    const refused = await gateway.handle({
      method: 'POST',
      path: '/events/emit',
      body: { type: 'payment.refunded' },
    });
    expect(refused).toEqual({
      statusCode: 403,
      body: {
        code: 'PGW_ERR_EVENT_NOT_PERMITTED',
        message:
          'plugin "events" may not publish "payment.refunded": add it to permissions.events.publish in plugin.yaml',
      },
    });
  });

  it("puts the plugin's log lines into the host's logger, tagged with plugin and request", async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['events'], { logger });
    const { id } = await gateway.publish({ type: 'track.played', payload: {} });
    await until(async () => logger.lines.some((l) => l.msg === 'event handled'));
    expect(logger.lines.find((l) => l.msg === 'event handled')).toMatchObject({
      level: 'info',
      plugin_id: 'events',
      version: '1.0.0',
      request_id: id,
      source: 'plugin',
      plugin_fields: { type: 'track.played' },
    });
  });

  it('logs every request with the ADR fields', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['steady'], { logger });
    await get(gateway, '/steady/3?x=1', { userId: 456, id: 'req-123' });
    const line = logger.lines.find((l) => l.msg === 'request');
    expect(line).toEqual({
      level: 'info',
      msg: 'request',
      plugin_id: 'steady',
      version: '2.1.0',
      request_id: 'req-123',
      method: 'GET',
      path: '/steady/3',
      user_id: 456,
      response_time_ms: expect.any(Number),
      status_code: 200,
    });
  });
});
