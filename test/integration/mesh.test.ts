import { afterEach, describe, expect, it } from 'vitest';
import type { BreakerEvent, PluginGateway, PluginResponse } from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const hits = (logger: ReturnType<typeof memoryLogger>) =>
  logger.lines.filter((l) => l.msg === 'hit').length;
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('circuit breaker, per plugin instance', () => {
  it('opens after failureThreshold 5xx, fails fast without touching the worker, probes, closes', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['flaky'], {
      logger,
      circuitBreaker: { failureThreshold: 3, timeout: '300ms', halfOpenLimit: 2 },
    });
    const events: string[] = [];
    for (const name of ['breaker:open', 'breaker:half-open', 'breaker:close'] as const) {
      gateway.on(name, (e: BreakerEvent) =>
        events.push(`${name} ${e.plugin} ${e.instance.split('#')[0]}`),
      );
    }
    for (let i = 0; i < 3; i++)
      expect((await get(gateway, '/flaky/work?status=500')).statusCode).toBe(500);
    expect(events).toEqual(['breaker:open flaky flaky@1.0.0']);

    await settle();
    const before = hits(logger);
    const refused = await get(gateway, '/flaky/work');
    expect(refused.statusCode).toBe(503);
    expect(codeOf(refused)).toBe('PGW_ERR_CIRCUIT_OPEN');
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    await settle();
    expect(hits(logger)).toBe(before);

    await new Promise((r) => setTimeout(r, 300));
    const probes = await Promise.all(
      Array.from({ length: 5 }, () => get(gateway!, '/flaky/work?ms=100')),
    );
    expect(probes.map((r) => r.statusCode).sort()).toEqual([200, 200, 503, 503, 503]);
    await settle();
    expect(hits(logger)).toBe(before + 2);
    expect(events).toEqual([
      'breaker:open flaky flaky@1.0.0',
      'breaker:half-open flaky flaky@1.0.0',
      'breaker:close flaky flaky@1.0.0',
    ]);
    expect((await get(gateway, '/flaky/work')).statusCode).toBe(200);
  });

  it('never counts 4xx against the instance', async () => {
    gateway = await gatewayWith(['flaky'], { circuitBreaker: { failureThreshold: 2 } });
    for (let i = 0; i < 5; i++)
      expect((await get(gateway, '/flaky/work?status=404')).statusCode).toBe(404);
    expect((await get(gateway, '/flaky/work')).statusCode).toBe(200);
  });

  it('counts timeouts, and can be set per plugin at load()', async () => {
    gateway = await gatewayWith([], { pluginTimeout: '100ms' });
    await gateway.load(fixture('flaky'), {
      circuitBreaker: { failureThreshold: 1, timeout: '10s' },
    });
    expect((await get(gateway, '/flaky/work?ms=300')).statusCode).toBe(504);
    expect(codeOf(await get(gateway, '/flaky/work'))).toBe('PGW_ERR_CIRCUIT_OPEN');
  });
});

describe('bulkhead, per plugin', () => {
  it('refuses at once beyond maxConcurrent running and maxQueued waiting', async () => {
    gateway = await gatewayWith([]);
    await gateway.load(fixture('flaky'), { bulkhead: { maxConcurrent: 1, maxQueued: 1 } });
    const order: string[] = [];
    const track = (tag: string) =>
      get(gateway!, `/flaky/work?ms=200&tag=${tag}`).then(
        (r) => (order.push(`${tag}:${r.statusCode}`), r),
      );
    const [running, queued, refused] = await Promise.all([track('a'), track('b'), track('c')]);
    expect(codeOf(refused)).toBe('PGW_ERR_BULKHEAD_FULL');
    expect([running.statusCode, queued.statusCode]).toEqual([200, 200]);
    expect(order).toEqual(['c:503', 'a:200', 'b:200']);
  });

  it('answers a queued request at its deadline and never runs it late', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith([], { logger, pluginTimeout: '200ms' });
    await gateway.load(fixture('flaky'), { bulkhead: { maxConcurrent: 1, maxQueued: 5 } });
    const [first, second] = await Promise.all([
      get(gateway, '/flaky/work?ms=1000&tag=first'),
      get(gateway, '/flaky/work?tag=second'),
    ]);
    expect([first.statusCode, second.statusCode]).toEqual([504, 504]);
    await new Promise((r) => setTimeout(r, 200));
    expect(logger.lines.filter((l) => l.msg === 'hit').map((l) => l.tag)).toEqual(['first']);
  });

  it('a request that waited in line still reaches its plugin when a place frees up in time', async () => {
    gateway = await gatewayWith([], { pluginTimeout: '2s' });
    await gateway.load(fixture('flaky'), { bulkhead: { maxConcurrent: 2, maxQueued: 10 } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => get(gateway!, `/flaky/work?ms=50&tag=${i}`)),
    );
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
  });
});
