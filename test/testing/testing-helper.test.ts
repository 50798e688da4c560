import { afterEach, describe, expect, it } from 'vitest';
import {
  createTestGateway,
  testPlugin,
  type PluginUnderTest,
  type TestGateway,
} from '../../src/testing/index.js';
import { isPluginCodeError } from '../../src/index.js';
import { fixture } from '../helpers.js';

describe('@veza/plugin-gateway/testing', () => {
  let plugin: PluginUnderTest | undefined;
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await plugin?.close();
    await gateway?.close();
    plugin = gateway = undefined;
  });

  it('testPlugin(dir): routes with a body, flags over the manifest, a default caller', async () => {
    plugin = await testPlugin(fixture('echo'), { flags: { shout: true }, user: 7 });
    const res = await plugin.post('/echo/ada', { n: 1 });
    expect(res).toMatchObject({
      statusCode: 200,
      body: { name: 'ADA', body: { n: 1 }, userId: 7 },
    });
    expect((await plugin.get('/whoami')).body).toEqual({ userId: 7 });
    expect((await plugin.get('/whoami', { user: null })).statusCode).toBe(401);
    expect((await plugin.get('/admin')).statusCode).toBe(403);
    expect((await plugin.get('/admin', { user: { userId: 1, roles: ['admin'] } })).statusCode).toBe(
      200,
    );
    expect(plugin.status()).toMatchObject({ status: 'active' });
  });

  it('publish() reaches the plugin; published() lists what the plugin published', async () => {
    plugin = await testPlugin(fixture('events'));
    expect(await plugin.published()).toEqual([]);
    const sent = await plugin.publish('track.played', { trackId: 1 }, { userId: 3 });
    expect(sent.delivered).toContain('events');
    expect((await plugin.get('/events/seen')).body).toEqual([
      { type: 'track.played', payload: { trackId: 1 }, source: null },
    ]);
    expect(
      (await plugin.post('/events/emit', { type: 'badge.awarded', payload: { b: 1 } })).statusCode,
    ).toBe(202);
    expect(await plugin.waitForPublished('badge.awarded')).toMatchObject({
      type: 'badge.awarded',
      payload: { b: 1 },
      source: 'events',
    });
    expect(await plugin.published()).toHaveLength(1);
    expect(plugin.logs.some((l) => l.msg === 'event handled')).toBe(true);
  });

  it('a plugin that does not load rejects with its located error, and leaves nothing running', async () => {
    const error = await testPlugin(fixture('code-syntax')).catch((e: unknown) => e);
    expect(isPluginCodeError(error)).toBe(true);
  });

  it('createTestGateway(): several plugins in one gateway, logs kept', async () => {
    gateway = await createTestGateway({ user: 'u1' });
    const echo = await gateway.load(fixture('echo'));
    expect((await echo.get('/whoami')).body).toEqual({ userId: 'u1' });
    expect(gateway.logs.length).toBeGreaterThan(0);
  });
});
