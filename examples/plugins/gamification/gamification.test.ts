import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPlugin, type PluginUnderTest } from '@veza/plugin-gateway/testing';

describe('gamification', () => {
  let plugin: PluginUnderTest;
  beforeAll(async () => {
    plugin = await testPlugin(import.meta.dirname, { flags: { double_points_weekend: true } });
  });
  afterAll(() => plugin.close());

  it('scores plays (double on weekends), awards badges and announces them', async () => {
    for (const trackId of [101, 103, 105]) {
      await plugin.publish('track.played', { trackId }, { userId: 456 });
    }
    const profile = await plugin.get('/gamification/users/456/profile');
    expect(profile).toMatchObject({
      statusCode: 200,
      body: { userId: 456, plays: 3, badges: ['first-play', 'explorer'] },
    });
    // 3 plays × 2 (double_points_weekend) + 2 badges × 5
    expect((profile.body as { points: number }).points).toBe(16);
    expect(await plugin.waitForPublished('badge.awarded')).toMatchObject({
      userId: 456,
      payload: { badge: 'first-play' },
    });
  });

  it('answers 404 for a listener with no activity', async () => {
    expect((await plugin.get('/gamification/users/999/profile')).statusCode).toBe(404);
  });
});
