import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayOptions, PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

/**
 * One plugin, two endpoints: `POST /two/echo` always fine, `GET /two/slow` late for its 50 ms deadline
 * 5% of the time. 32 in-process callers, half on each, a fixed number of requests each; outcomes counted.
 */
async function slowEndpointScenario(options: GatewayOptions) {
  gateway = await gatewayWith(['two-speed'], options);
  const g = gateway;
  let opened = 0;
  g.on('breaker:open', () => opened++);
  const tally = { echo: new Map<number, number>(), slow: new Map<number, number>() };
  const count = (m: Map<number, number>, status: number) => m.set(status, (m.get(status) ?? 0) + 1);
  const echo = async () => {
    for (let n = 0; n < 600; n++) {
      const res = await g.handle({ method: 'POST', path: '/two/echo', body: { n } });
      count(tally.echo, res.statusCode);
    }
  };
  const slow = async () => {
    for (let n = 0; n < 50; n++) {
      const res = await g.handle({ method: 'GET', path: '/two/slow' });
      count(tally.slow, res.statusCode);
    }
  };
  await Promise.all([...Array.from({ length: 16 }, echo), ...Array.from({ length: 16 }, slow)]);
  return { opened, echo: Object.fromEntries(tally.echo), slow: Object.fromEntries(tally.slow) };
}

describe('one slow endpoint does not take the healthy ones down', () => {
  it('with the default breaker, /echo answers every request 200 while /slow misses 5% of its deadlines', async () => {
    const result = await slowEndpointScenario({});
    expect(result.echo).toEqual({ 200: 16 * 600 });
    expect(result.slow[504]).toBeGreaterThan(0);
    expect(result.opened).toBe(0);
  }, 120_000);

  it('reproduction: the consecutive policy alone opens on a batch of timeouts and fails /echo fast', async () => {
    const result = await slowEndpointScenario({ circuitBreaker: { policy: 'consecutive' } });
    expect(result.opened).toBeGreaterThan(0);
    expect(result.echo[503]).toBeGreaterThan(0);
  }, 120_000);

  it('with scope: endpoint, a breaker opening on /slow leaves /echo alone', async () => {
    const result = await slowEndpointScenario({
      circuitBreaker: { policy: 'consecutive', scope: 'endpoint' },
    });
    expect(result.opened).toBeGreaterThan(0);
    expect(result.echo).toEqual({ 200: 16 * 600 });
  }, 120_000);
});
