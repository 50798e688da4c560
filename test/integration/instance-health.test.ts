import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type HealthStatus } from '../../src/index.js';
import { fixture, get } from '../helpers.js';

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

const threadOf = async (g: PluginGateway, path = '/sickly/who') =>
  ((await get(g, path)).body as { thread: number }).thread;

async function twoInstances(name: string) {
  gateway = new PluginGateway({ logger: false });
  await gateway.load(fixture(name), { instances: 2 });
  await gateway.start();
  return gateway;
}

/** Turns the instance that serves the next request unhealthy for `ms`; answers its thread. */
async function sicken(g: PluginGateway, ms: number) {
  const sick = g.handle({ method: 'POST', path: `/sickly/sick?ms=${ms}` });
  return ((await sick).body as { thread: number }).thread;
}

describe.each([
  ['sickly', "the plugin's healthCheck()"],
  ['sickly-endpoint', 'a GET of health_check.endpoint'],
])('health of each instance, from %s (%s)', (name) => {
  it('sends no new requests to an unhealthy instance while the other is healthy, and takes it back once it recovers', async () => {
    const g = await twoInstances(name);
    const unhealthy = nextHealth(g, 'unhealthy');
    const sickThread = await sicken(g, 1500);
    const reported = await unhealthy;
    const health = g.metrics(name).instances.map((i) => i.health);
    expect(health.sort()).toEqual(['healthy', 'unhealthy']);
    // The event and the plugin's info say which instance.
    const each = Object.values(reported.details?.instances as Record<string, string>);
    expect(each.sort()).toEqual(['healthy', 'unhealthy']);
    expect(g.get(name)?.health_check.last?.status).toBe('unhealthy');
    const served = new Set<number>();
    for (let i = 0; i < 20; i++) served.add(await threadOf(g));
    expect(served.has(sickThread)).toBe(false);
    expect(served.size).toBe(1);

    await nextHealth(g, 'healthy');
    expect(g.metrics(name).instances.map((i) => i.health)).toEqual(['healthy', 'healthy']);
    // Both instances serve again (the balancer picks the first of equally idle instances).
    const concurrent = await Promise.all(Array.from({ length: 40 }, () => threadOf(g)));
    expect(new Set(concurrent).has(sickThread)).toBe(true);
  }, 60_000);
});

describe('an idle instance', () => {
  it('has no known health once its threads are gone, so traffic (and threads) can come back to it', async () => {
    gateway = new PluginGateway({ logger: false, idleTimeout: 300 });
    await gateway.load(fixture('sickly'), { instances: 2 });
    await gateway.start();
    const g = gateway;
    const unhealthy = nextHealth(g, 'unhealthy');
    await sicken(g, 60_000);
    await unhealthy;
    for (let i = 0; i < 400 && g.metrics('sickly').threads > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(g.metrics('sickly').threads).toBe(0);
    // The next check finds no thread to ask (one asked as the thread went may wait out its timeout).
    const healths = () => g.metrics('sickly').instances.map((i) => i.health);
    for (let i = 0; i < 400 && healths().includes('unhealthy'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(healths()).toEqual(['healthy', 'healthy']);
    // Both instances take requests again: each starts a thread.
    await Promise.all(Array.from({ length: 8 }, () => threadOf(g)));
    expect(g.metrics('sickly').threads).toBe(2);
  }, 60_000);
});

describe('health_check.endpoint', () => {
  it("falls back to the plugin's healthCheck() when its routes have no GET of the endpoint (the ADR's /health)", async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.start();
    const info = await gateway.load(fixture('sickly-endpoint-missing'));
    expect(info.status).toBe('active');
    const unhealthy = nextHealth(gateway, 'unhealthy');
    await gateway.handle({ method: 'POST', path: '/sickly/sick', headers: {} });
    // Only healthCheck() knows of the mood: its route /sickly/health is not the manifest's endpoint.
    expect((await unhealthy).status).toBe('unhealthy');
  });
});
