/**
 * The ADR's Advanced Analytics plugin written again in Go and in Rust (examples/plugins/
 * advanced-analytics-{go,rust}): built, loaded as native plugins in bwrap, and checked as the
 * JavaScript one is (examples/plugins/advanced-analytics/advanced-analytics.test.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPlugin, type PluginUnderTest } from '../../src/testing/index.js';
import { nativeLanguages } from '../services/native-build.js';

const examples = path.resolve(import.meta.dirname, '../../examples/plugins');
describe.each(nativeLanguages('example tests', { Go: 'go', Rust: 'rust' }))(
  'advanced-analytics in %s',
  (_, build, suffix) => {
    let built: { dir: string; dispose(): void };
    let plugin: PluginUnderTest;
    beforeAll(async () => {
      built = build(path.join(examples, `advanced-analytics-${suffix}`), 'advanced-analytics');
      plugin = await testPlugin(built.dir);
    }, 300_000);
    afterAll(async () => {
      await plugin?.close();
      built?.dispose();
    });

    it('counts plays, skips and listeners per track', async () => {
      await plugin.publish('track.played', { trackId: 101, seconds: 200 }, { userId: 1 });
      await plugin.publish('track.played', { trackId: 101, seconds: 100 }, { userId: 2 });
      await plugin.publish('track.skipped', { trackId: 101 }, { userId: 3 });
      const res = await plugin.get('/analytics/tracks/101');
      expect(res).toMatchObject({
        statusCode: 200,
        body: {
          trackId: 101,
          title: 'Midnight Drive',
          plays: 2,
          skips: 1,
          skipRate: 0.33,
          uniqueListeners: 3,
          medianSecondsListened: 150,
        },
      });
      expect((await plugin.get('/analytics/tracks/999')).statusCode).toBe(404);
    });

    it('keeps the top tracks to artists and admins', async () => {
      expect((await plugin.get('/analytics/top')).statusCode).toBe(401);
      expect(
        (await plugin.get('/analytics/top', { user: { userId: 9, roles: ['listener'] } }))
          .statusCode,
      ).toBe(403);
      const top = await plugin.get('/analytics/top?limit=1', {
        user: { userId: 9, roles: ['artist'] },
      });
      expect(top).toMatchObject({ statusCode: 200, body: [{ trackId: 101, plays: 2 }] });
    });
  },
);
