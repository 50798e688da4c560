import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { MetricHistory } from '../../src/management/index.js';
import { fixture, gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
let history: MetricHistory | undefined;
afterEach(async () => {
  history?.stop();
  await gateway?.stop();
  gateway = history = undefined;
});

describe('MetricHistory', () => {
  it('keeps at most `capacity` samples per loaded plugin, each with its interval’s requests', async () => {
    gateway = await gatewayWith(['faulty']);
    // A long interval: this test takes every sample itself.
    history = new MetricHistory(gateway, { interval: 3_600_000, capacity: 3 });
    history.start();
    await gateway.handle({ method: 'GET', path: '/faulty/ok' });
    await gateway.handle({ method: 'GET', path: '/faulty/throw' });
    history.sample(1000);
    expect(history.samples('faulty')).toEqual([
      expect.objectContaining({
        t: 1000,
        requests: 2,
        errors: 1,
        status: 'active',
        breakersOpen: 0,
      }),
    ]);
    expect(history.samples('faulty')[0]!.p99).toBeGreaterThan(0);
    for (let t = 2000; t <= 6000; t += 1000) history.sample(t);
    expect(history.samples('faulty').map((s) => s.t)).toEqual([4000, 5000, 6000]);
    expect(history.samples('faulty')[2]).toMatchObject({ requests: 0, p50: 0, p99: 0 });
    expect(history.window('faulty', 1500, 6000).map((s) => s.t)).toEqual([5000, 6000]);
  });

  it('forgets an unloaded plugin, and records nothing once stopped', async () => {
    gateway = await gatewayWith(['faulty']);
    history = new MetricHistory(gateway, { interval: 3_600_000 });
    history.start();
    history.sample();
    await gateway.unload('faulty');
    history.sample();
    expect(history.samples('faulty')).toEqual([]);
    history.stop();
    await gateway.load(fixture('faulty'));
    await gateway.handle({ method: 'GET', path: '/faulty/ok' });
    history.sample();
    expect(history.samples('faulty')[0]).toMatchObject({ requests: 0 });
  });
});
