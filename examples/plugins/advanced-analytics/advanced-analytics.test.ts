import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPlugin, type PluginUnderTest } from '@veza/plugin-gateway/testing';

describe('advanced-analytics', () => {
  let plugin: PluginUnderTest;
  beforeAll(async () => {
    plugin = await testPlugin(import.meta.dirname);
  });
  afterAll(() => plugin.close());

  it('counts plays, skips and listeners per track', async () => {
    await plugin.publish('track.played', { trackId: 101, seconds: 200 }, { userId: 1 });
    await plugin.publish('track.played', { trackId: 101, seconds: 100 }, { userId: 2 });
    await plugin.publish('track.skipped', { trackId: 101 }, { userId: 3 });
    const res = await plugin.get('/analytics/tracks/101');
    expect(res).toMatchObject({
      statusCode: 200,
      body: { plays: 2, skips: 1, uniqueListeners: 3 },
    });
  });

  it('keeps the top tracks to artists and admins', async () => {
    expect((await plugin.get('/analytics/top')).statusCode).toBe(401);
    expect(
      (await plugin.get('/analytics/top', { user: { userId: 9, roles: ['listener'] } })).statusCode,
    ).toBe(403);
    const top = await plugin.get('/analytics/top', { user: { userId: 9, roles: ['artist'] } });
    expect(top).toMatchObject({ statusCode: 200, body: [{ plays: 2 }] });
  });
});
