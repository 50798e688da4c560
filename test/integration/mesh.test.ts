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
    gateway = await gatewayWith([], { warm: true, pluginTimeout: '100ms' });
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
    gateway = await gatewayWith([], { warm: true, logger, pluginTimeout: '200ms' });
    await gateway.load(fixture('flaky'), { bulkhead: { maxConcurrent: 1, maxQueued: 5 } });
    // The first holds the only place for its own deadline (1 s); the second's (200 ms) passes in line.
    const [first, second] = await Promise.all([
      get(gateway, '/flaky/long?ms=2000&tag=first'),
      get(gateway, '/flaky/work?tag=second'),
    ]);
    expect([first.statusCode, second.statusCode]).toEqual([504, 504]);
    expect(codeOf(second)).toBe('PGW_ERR_TIMEOUT');
    await new Promise((r) => setTimeout(r, 200));
    const hits = logger.lines.filter((l) => l.msg === 'hit');
    expect(hits.map((l) => (l.plugin_fields as { tag?: string }).tag)).toEqual(['first']);
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

describe('retries: only when the instance did not answer, only idempotent methods', () => {
  it('a GET whose thread was ended under it is retried on a fresh thread; a POST never is', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['faulty'], { logger });
    const started = (method: string) =>
      logger.lines.filter(
        (l) =>
          l.msg === 'slow started' && (l.plugin_fields as { method?: string }).method === method,
      ).length;
    // Both start on the plugin's one thread, then an infinite loop blocks it until it is ended.
    const getting = get(gateway, '/faulty/slow?ms=600');
    const posting = gateway.handle({ method: 'POST', path: '/faulty/slow?ms=600' });
    await new Promise((r) => setTimeout(r, 100));
    const looping = get(gateway, '/faulty/loop');
    const [got, posted, looped] = await Promise.all([getting, posting, looping]);
    expect(looped.statusCode).toBe(504);
    expect(got.statusCode).toBe(200);
    expect(started('GET')).toBe(2);
    expect(posted.statusCode).toBe(503);
    expect(codeOf(posted)).toBe('PGW_ERR_PLUGIN_UNAVAILABLE');
    expect(started('POST')).toBe(1);
  });
});

describe('instances and load balancing', () => {
  it('spreads requests over a plugin’s instances, each a worker pool with its own breaker', async () => {
    gateway = await gatewayWith([], {
      balancer: 'round-robin',
      circuitBreaker: { failureThreshold: 1, timeout: '10s' },
    });
    await gateway.load(fixture('faulty'), { instances: 2 });
    const threads = new Set<number>();
    for (let i = 0; i < 4; i++)
      threads.add(((await get(gateway, '/faulty/pid')).body as { threadId: number }).threadId);
    expect(threads.size).toBe(2);
    expect(gateway.metrics('faulty').threads).toBe(2);
    // One instance's circuit opens; the balancer routes around it and the plugin keeps answering.
    const opened: string[] = [];
    gateway.on('breaker:open', (e) => opened.push(e.instance));
    expect((await get(gateway, '/faulty/throw')).statusCode).toBe(500);
    expect(opened).toHaveLength(1);
    const after = await Promise.all(Array.from({ length: 4 }, () => get(gateway!, '/faulty/pid')));
    expect(after.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect(new Set(after.map((r) => (r.body as { threadId: number }).threadId)).size).toBe(1);
  });
});
