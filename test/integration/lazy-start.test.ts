import { afterEach, describe, expect, it } from 'vitest';
import type { BootEvent, PluginGateway } from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger } from '../helpers.js';

/** `plugin:boot` events of a gateway, in order. */
function boots(gateway: PluginGateway): BootEvent[] {
  const seen: BootEvent[] = [];
  gateway.on('plugin:boot', (event) => void seen.push(event));
  return seen;
}

describe('lazy start (warm: false)', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('makes plugins active without a thread, and boots one on its first request', async () => {
    gateway = await gatewayWith(['lifecycle', 'echo'], { warm: false });
    expect(gateway.list().map((p) => p.status)).toEqual(['active', 'active']);
    expect(gateway.metrics('lifecycle').threads).toBe(0);
    expect(gateway.metrics('echo').threads).toBe(0);
    const seen = boots(gateway);
    const response = await get(gateway, '/lifecycle');
    // initialize() and start() ran in the new thread before its first request.
    expect(response).toMatchObject({ statusCode: 200, body: { started: true } });
    expect(seen).toEqual([
      expect.objectContaining({ plugin: 'lifecycle', ok: true, wake: true, pending: 0 }),
    ]);
    expect(gateway.metrics('lifecycle').threads).toBe(1);
    expect(gateway.metrics('echo').threads).toBe(0);
    expect(gateway.get('lifecycle')?.status).toBe('active');
  });

  it("follows the manifest's warm over the gateway's, and load(dir, { warm }) over both", async () => {
    gateway = await gatewayWith(['manifest-lazy', 'manifest-warm'], { warm: false });
    expect(gateway.metrics('manifest-warm').threads).toBe(1);
    expect(gateway.metrics('manifest-lazy').threads).toBe(0);
    await gateway.stop();
    gateway = await gatewayWith(['manifest-lazy', 'manifest-warm']);
    expect(gateway.metrics('manifest-lazy').threads).toBe(0);
    expect(gateway.metrics('manifest-warm').threads).toBe(1);
    await gateway.unload('manifest-lazy');
    await gateway.load(fixture('manifest-lazy'), { warm: true });
    expect(gateway.metrics('manifest-lazy').threads).toBe(1);
    expect((await get(gateway, '/manifest-lazy')).statusCode).toBe(200);
  });

  it('hands the load settings to initialize() in the thread a wake boots', async () => {
    gateway = await gatewayWith([], { warm: false });
    await gateway.load(fixture('lifecycle'), { config: { region: 'eu' } });
    expect(gateway.metrics('lifecycle').threads).toBe(0);
    expect((await get(gateway, '/lifecycle')).body).toEqual({
      started: true,
      settings: { region: 'eu' },
    });
  });

  it('boots once for first requests that arrive together', async () => {
    gateway = await gatewayWith(['lifecycle'], { warm: false });
    const seen = boots(gateway);
    const answers = await Promise.all([1, 2, 3, 4].map(() => get(gateway!, '/lifecycle')));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
    expect(seen).toHaveLength(1);
  });

  it('answers 503 PGW_ERR_PLUGIN_UNAVAILABLE and marks the plugin failed when initialize() throws on wake', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['init-fails'], { warm: false, logger });
    expect(gateway.get('init-fails')?.status).toBe('active');
    const statuses: string[] = [];
    gateway.on('plugin:status', (info) => void statuses.push(`${info.name} ${info.status}`));
    const seen = boots(gateway);
    const response = await get(gateway, '/never');
    expect(response.statusCode).toBe(503);
    expect(response.body).toMatchObject({
      error: { code: 'PGW_ERR_PLUGIN_UNAVAILABLE', message: 'plugin "init-fails" is failed' },
    });
    expect(statuses).toEqual(['init-fails failed']);
    expect(gateway.get('init-fails')?.reason).toContain('cannot reach the model store');
    expect(seen).toEqual([
      expect.objectContaining({ plugin: 'init-fails', ok: false, wake: true }),
    ]);
    expect(seen[0]?.error).toContain('cannot reach the model store');
    expect(logger.lines.some((l) => l.level === 'error' && l.plugin_id === 'init-fails')).toBe(
      true,
    );
    // Later requests are refused at once, with no boot.
    expect((await get(gateway, '/never')).statusCode).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it('still checks the routes against the manifest on wake', async () => {
    gateway = await gatewayWith(['missing-route'], { warm: false });
    const response = await get(gateway, '/has');
    expect(response.statusCode).toBe(503);
    expect(gateway.get('missing-route')).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('DELETE /lacks/{id}'),
    });
  });

  it('fails a wake that outlasts bootTimeout: 503, failed with the timeout, thread ended', async () => {
    gateway = await gatewayWith(['slow-init'], { warm: false, bootTimeout: '300ms' });
    const response = await get(gateway, '/slow-init');
    expect(response.statusCode).toBe(503);
    expect(gateway.get('slow-init')).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('within 300 ms'),
    });
    await expect.poll(() => gateway!.metrics('slow-init').threads).toBe(0);
  });

  it('answers 503 "starting" with retry-after to a request whose timeout passes during the wake', async () => {
    gateway = await gatewayWith(['slow-init'], { warm: false, pluginTimeout: '200ms' });
    const response = await get(gateway, '/slow-init');
    expect(response).toMatchObject({
      statusCode: 503,
      headers: { 'retry-after': '1' },
      body: {
        error: { code: 'PGW_ERR_PLUGIN_UNAVAILABLE', message: 'plugin "slow-init" is starting' },
      },
    });
    // The boot goes on: the plugin is neither failed nor booted.
    expect(gateway.get('slow-init')?.status).toBe('active');
  });

  it('answers a request waiting for a wake when the plugin is unloaded meanwhile', async () => {
    gateway = await gatewayWith(['slow-init'], { warm: false });
    const waiting = get(gateway, '/slow-init');
    await gateway.unload('slow-init');
    expect((await waiting).statusCode).toBe(503);
    expect(gateway.list()).toEqual([]);
  });

  it('wakes an asleep plugin for an event delivered to it', async () => {
    gateway = await gatewayWith(['events'], { warm: false });
    const seen = boots(gateway);
    const result = await gateway.publish({ type: 'track.played', payload: { id: 1 } });
    expect(result.delivered).toEqual(['events']);
    expect(seen).toEqual([expect.objectContaining({ plugin: 'events', ok: true, wake: true })]);
  });

  it('boots a plugin loaded with warm: true at start() even when the gateway is lazy', async () => {
    const { PluginGateway } = await import('../../src/index.js');
    gateway = new PluginGateway({ logger: false, warm: false });
    await gateway.load(fixture('lifecycle'), { warm: true });
    await gateway.load(fixture('echo'));
    const seen = boots(gateway);
    await gateway.start();
    expect(seen.map((e) => `${e.plugin} ${e.wake}`)).toEqual(['lifecycle false']);
    expect(gateway.metrics('lifecycle').threads).toBe(1);
    expect(gateway.metrics('echo').threads).toBe(0);
  });

  it('keeps start() failing a warm plugin that cannot boot (warm: true)', async () => {
    gateway = await gatewayWith(['init-fails'], { warm: true });
    expect(gateway.get('init-fails')).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('cannot reach the model store'),
    });
  });
});

describe('bounded boot (bootConcurrency)', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('boots warm plugins one at a time with bootConcurrency: 1, counting down what is left', async () => {
    const { PluginGateway } = await import('../../src/index.js');
    gateway = new PluginGateway({ warm: true, logger: false, bootConcurrency: 1 });
    for (const f of ['lifecycle', 'echo', 'events']) await gateway.load(fixture(f));
    const seen = boots(gateway);
    const threadsSeen: number[] = [];
    gateway.on('plugin:boot', () => {
      const live = gateway!.list().reduce((sum, p) => sum + gateway!.metrics(p.name).threads, 0);
      threadsSeen.push(live);
    });
    await gateway.start();
    expect(seen.map((e) => e.ok)).toEqual([true, true, true]);
    expect(seen.map((e) => e.pending)).toEqual([2, 1, 0]);
    // One more live thread per boot: never two booting at once.
    expect(threadsSeen).toEqual([1, 2, 3]);
    expect(gateway.list().every((p) => p.status === 'active')).toBe(true);
  });
});
