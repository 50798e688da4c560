import { afterAll, describe, expect, it } from 'vitest';
import { testPlugin, type PluginUnderTest } from '@veza/plugin-gateway/testing';

describe('ai-recommendations', () => {
  const plugins: PluginUnderTest[] = [];
  afterAll(() => Promise.all(plugins.map((p) => p.close())));
  const load = async (flags: Record<string, boolean>) => {
    const plugin = await testPlugin(import.meta.dirname, { flags, user: 456 });
    plugins.push(plugin);
    return plugin;
  };

  it('needs a caller', async () => {
    const plugin = await load({});
    expect((await plugin.get('/recommendations', { user: null })).statusCode).toBe(401);
  });

  it('recommends by popularity, then by taste with enable_ml_model', async () => {
    const popular = await load({ enable_ml_model: false });
    expect((await popular.get('/recommendations')).body).toMatchObject({
      userId: 456,
      model: 'popularity',
    });
    const model = await load({ enable_ml_model: true });
    await model.publish('track.played', { trackId: 103 }, { userId: 456 });
    const res = await model.get('/recommendations?limit=1');
    // One ambient track heard: the other ambient, calm, focus track comes first.
    expect(res).toMatchObject({
      statusCode: 200,
      body: { model: 'tag-similarity', items: [{ id: 104 }] },
    });
  });

  it('streams recommendations as Server-Sent Events, resuming after Last-Event-ID', async () => {
    const plugin = await load({});
    const read = async (headers: Record<string, string>) => {
      const res = await plugin.get('/recommendations/stream?limit=3', { headers });
      expect(res.headers['content-type']).toContain('text/event-stream');
      let text = '';
      for await (const chunk of res.body as AsyncIterable<string>) text += chunk;
      return text;
    };
    const all = await read({});
    expect(all.match(/^event: recommendation$/gm)).toHaveLength(3);
    expect(all).toMatch(/id: 1\nevent: recommendation\ndata: \{"id":\d+/);
    expect(all).toContain('event: done\ndata: {"count":3}');
    const resumed = await read({ 'last-event-id': '2' });
    expect(resumed.match(/^event: recommendation$/gm)).toHaveLength(1);
    expect(resumed).toContain('id: 3\n');
  });

  it('refuses to record activity for another listener', async () => {
    const plugin = await load({});
    expect(
      (await plugin.post('/recommendations/users/457/activity', { trackId: 101 })).statusCode,
    ).toBe(403);
  });
});
