import { afterEach, describe, expect, it } from 'vitest';
import type { HealthStatus, PluginGateway } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const nextHealth = (g: PluginGateway, status: HealthStatus['status']) =>
  new Promise<HealthStatus>((resolve) => {
    const listener = (_info: unknown, health: HealthStatus) => {
      if (health.status !== status) return;
      g.off('plugin:health', listener);
      resolve(health);
    };
    g.on('plugin:health', listener);
  });

describe('periodic health checks (health_check.interval)', () => {
  it("reports each change of the plugin's own healthCheck() as an event and in its info", async () => {
    gateway = await gatewayWith(['moody'], { warm: true });
    expect(gateway.get('moody')?.health_check.last).toEqual({
      status: 'healthy',
      details: { mood: 'healthy' },
    });
    const degraded = nextHealth(gateway, 'degraded');
    await gateway.handle({ method: 'POST', path: '/moody/degraded' });
    expect(await degraded).toEqual({ status: 'degraded', details: { mood: 'degraded' } });
    expect(gateway.get('moody')?.health_check.last?.status).toBe('degraded');
    // Health is reported, not acted on: the plugin keeps serving.
    expect(gateway.get('moody')?.status).toBe('active');
  });

  it('counts a thread that cannot answer in time (blocked event loop) as unhealthy', async () => {
    gateway = await gatewayWith(['moody']);
    const unhealthy = nextHealth(gateway, 'unhealthy');
    const blocked = get(gateway, '/moody/block');
    expect((await unhealthy).details).toEqual({
      error: expect.stringMatching(/^thread \d+ did not answer healthCheck\(\) within 200 ms$/),
    });
    expect((await blocked).statusCode).toBe(200);
    await nextHealth(gateway, 'healthy');
  });

  it('never wakes an idle plugin: with no thread alive, nothing is checked', async () => {
    gateway = await gatewayWith(['moody'], { warm: true, idleTimeout: 150 });
    for (let i = 0; i < 50 && gateway.metrics('moody').threads > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(gateway.metrics('moody').threads).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    expect(gateway.metrics('moody').threads).toBe(0);
    expect(gateway.get('moody')?.health_check.last?.status).toBe('healthy');
    // And it wakes on the next request.
    expect((await gateway.handle({ method: 'POST', path: '/moody/healthy' })).statusCode).toBe(204);
  });
});
