import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type BreakerEvent, type PluginResponse } from '../../src/index.js';
import { fixture, gatewayWith, get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

describe("circuitBreaker.scope: 'endpoint', set per plugin at load()", () => {
  it('opens the failing endpoint alone, says which in the event and the metrics', async () => {
    gateway = await gatewayWith([]);
    await gateway.load(fixture('flaky'), {
      circuitBreaker: { scope: 'endpoint', failureThreshold: 2, timeout: '10s' },
    });
    const opened: BreakerEvent[] = [];
    gateway.on('breaker:open', (e) => opened.push(e));
    for (let i = 0; i < 2; i++)
      expect((await get(gateway, '/flaky/long?status=500')).statusCode).toBe(500);
    expect(opened).toEqual([
      {
        plugin: 'flaky',
        instance: expect.stringMatching(/^flaky@1\.0\.0#/),
        endpoint: 'GET /flaky/long',
      },
    ]);
    expect(codeOf(await get(gateway, '/flaky/long'))).toBe('PGW_ERR_CIRCUIT_OPEN');
    expect((await get(gateway, '/flaky/work')).statusCode).toBe(200);
    const [instance] = gateway.metrics('flaky').instances;
    expect(instance?.breaker).toBe('open');
    expect(instance?.breakers).toEqual({
      'GET /flaky/work': 'closed',
      'POST /flaky/work': 'closed',
      'GET /flaky/long': 'open',
    });
    // Not every breaker of the instance is open: it is not reported unhealthy.
    expect(instance?.health).toBe('healthy');
  });

  it('with one breaker per instance (the default), an instance whose breaker is open reports unhealthy', async () => {
    gateway = await gatewayWith(['flaky'], { circuitBreaker: { failureThreshold: 2 } });
    for (let i = 0; i < 2; i++) await get(gateway, '/flaky/work?status=500');
    expect(gateway.metrics('flaky').instances[0]).toMatchObject({
      breaker: 'open',
      health: 'unhealthy',
    });
  });
});

describe('circuitBreaker options are validated', () => {
  it.each([
    [{ policy: 'sampling' }, /circuitBreaker\.policy/],
    [{ failureRate: 1.5 }, /circuitBreaker\.failureRate/],
    [{ window: '50ms' }, /circuitBreaker\.window/],
    [{ scope: 'plugin' }, /circuitBreaker\.scope/],
  ])('%o is refused, naming the option', (circuitBreaker, message) => {
    expect(() => new PluginGateway({ circuitBreaker } as never)).toThrow(message);
  });

  it('at load() too', async () => {
    gateway = await gatewayWith([]);
    await expect(
      gateway.load(fixture('flaky'), { circuitBreaker: { minThroughput: 0 } }),
    ).rejects.toThrow(/circuitBreaker\.minThroughput/);
  });
});
