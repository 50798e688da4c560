import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  testPlugin,
  type PluginUnderTest,
  type TestRequest,
  type TestResponse,
} from '../../src/testing/index.js';
import { goWasmReason, usable } from '../services/toolchains.js';
import { PluginGateway } from '../../src/index.js';
import { closeServer } from '../helpers.js';
import { liveServer } from '../live-clients.js';

/**
 * The ADR's Advanced Analytics plugin written again in Go (examples/plugins/advanced-analytics-wasm-go, a
 * wasm plugin on Extism's Go PDK): built with the real Go toolchain, it answers the same routes as the
 * JavaScript plugin with the same bodies after the same events.
 */
const plugins = path.resolve(import.meta.dirname, '../../examples/plugins');
const goDir = path.join(plugins, 'advanced-analytics-wasm-go');
const present = usable('the Go wasm analytics example', goWasmReason(), 'Go 1.24 or later');

describe.skipIf(!present)('advanced-analytics in Go (wasm) against the JavaScript one', () => {
  let go: PluginUnderTest;
  let js: PluginUnderTest;
  const both = () => [go, js];
  /** The same request to the Go plugin and to the JavaScript one. */
  const ask = async (p: string, init?: TestRequest): Promise<[TestResponse, TestResponse]> => [
    await go.get(p, init),
    await js.get(p, init),
  ];

  beforeAll(async () => {
    execFileSync('sh', [path.join(goDir, 'build.sh')], { stdio: 'pipe', timeout: 600_000 });
    go = await testPlugin(goDir);
    js = await testPlugin(path.join(plugins, 'advanced-analytics'));
    for (const plugin of both()) {
      await plugin.publish('track.played', { trackId: 101, seconds: 200 }, { userId: 1 });
      await plugin.publish('track.played', { trackId: 101, seconds: 100 }, { userId: 2 });
      await plugin.publish('track.skipped', { trackId: 101 }, { userId: 3 });
      await plugin.publish('track.played', { trackId: 103, seconds: 240 }, { userId: 'u-7' });
      await plugin.publish('track.played', { trackId: 999, seconds: 10 }, { userId: 1 });
      await plugin.publish('track.liked', { trackId: 103 }, { userId: 1 });
    }
  }, 600_000);
  afterAll(async () => {
    await go?.close();
    await js?.close();
  });

  it('counts plays, skips, listeners and the median time per track, as the JavaScript plugin does', async () => {
    const [fromGo, fromJs] = await ask('/analytics/tracks/101');
    expect(fromGo).toMatchObject({
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
    expect(fromGo.body).toEqual(fromJs.body);
  });

  it('keeps the top tracks to artists and admins, ranked as the JavaScript plugin ranks them', async () => {
    expect((await go.get('/analytics/top')).statusCode).toBe(401);
    const listener = { user: { userId: 9, roles: ['listener'] } };
    expect((await go.get('/analytics/top', listener)).statusCode).toBe(403);
    const artist = { user: { userId: 9, roles: ['artist'] } };
    const [fromGo, fromJs] = await ask('/analytics/top?limit=2', artist);
    expect(fromGo.statusCode).toBe(200);
    expect((fromGo.body as { trackId: number }[]).map((t) => t.trackId)).toEqual([101, 103]);
    expect(fromGo.body).toEqual(fromJs.body);
  });
  it("knows the catalog's tracks (101 to 110) and answers 404 for others, as the JavaScript plugin does", async () => {
    for (let id = 100; id <= 111; id++) {
      const [fromGo, fromJs] = await ask(`/analytics/tracks/${id}`);
      expect(fromGo.statusCode).toBe(id >= 101 && id <= 110 ? 200 : 404);
      expect(fromGo.statusCode).toBe(fromJs.statusCode);
      if (fromGo.statusCode === 200) expect(fromGo.body).toEqual(fromJs.body);
    }
    expect((await go.get('/analytics/tracks/104')).body).toMatchObject({ title: 'Glass Garden' });
  });

  it('streams the catalog as Server-Sent Events through the Go SDK, resuming after Last-Event-ID', async () => {
    const gateway = new PluginGateway({ logger: false });
    await gateway.load(goDir);
    await gateway.start();
    const { server, url } = await liveServer(gateway);
    try {
      const res = await fetch(`http://${url}/analytics/catalog/stream`, {
        headers: { 'last-event-id': '107' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const frames = (await res.text()).split('\n\n').filter((f) => f !== '');
      // Go's encoding/json writes a map's keys sorted.
      expect(frames).toHaveLength(3);
      frames.forEach((frame, i) =>
        expect(frame).toMatch(
          new RegExp(
            `^event: track\nid: ${108 + i}\ndata: \\{"title":"[^"]+","trackId":${108 + i}\\}$`,
          ),
        ),
      );
    } finally {
      await gateway.stop();
      await closeServer(server);
    }
  });
});
