import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimitStore, type PluginGateway, type PluginResponse } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';
import { RedisServer, serviceAvailable } from '../services/redis.js';

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const gateways: PluginGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});
async function gatewayWithLimits(options = {}) {
  const g = await gatewayWith(['limited'], options);
  gateways.push(g);
  return g;
}

describe('rate_limit, per endpoint and per caller (memory store)', () => {
  it('lets n through, answers the n+1th 429 with Retry-After and RateLimit headers; others are unaffected', async () => {
    const g = await gatewayWithLimits();
    for (let i = 0; i < 5; i++)
      expect((await get(g, '/limited', { userId: 1 })).statusCode).toBe(200);
    const limited = await get(g, '/limited', { userId: 1 });
    expect(limited.statusCode).toBe(429);
    expect(codeOf(limited)).toBe('PGW_ERR_RATE_LIMITED');
    expect(limited.headers).toMatchObject({
      'retry-after': '12',
      'ratelimit-policy': '"endpoint";q=5;w=60',
      ratelimit: '"endpoint";r=0;t=12',
    });
    // Another caller, and another endpoint of the same caller, have budgets of their own.
    expect((await get(g, '/limited', { userId: 2 })).statusCode).toBe(200);
    expect((await get(g, '/unlimited', { userId: 1 })).statusCode).toBe(200);
    // Refused requests count as routed to the plugin, not as its errors.
    expect(g.metrics('limited')).toMatchObject({ request_count: 8, error_count: 0 });
  });

  it('tells anonymous callers apart by the client address the adapter passes in context', async () => {
    const g = await gatewayWithLimits();
    for (let i = 0; i < 5; i++)
      await get(g, '/limited', { context: { clientAddress: '10.0.0.1' } });
    expect((await get(g, '/limited', { context: { clientAddress: '10.0.0.1' } })).statusCode).toBe(
      429,
    );
    expect((await get(g, '/limited', { context: { clientAddress: '10.0.0.2' } })).statusCode).toBe(
      200,
    );
  });
});

const hasRedis = serviceAvailable('redis-server', 'apt-get install -y redis-server');

describe.skipIf(!hasRedis)('rate_limit shared through a real Redis', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis({
      port: redis.port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const ready = (c: Redis) =>
    c.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => c.once('ready', () => r()));

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('two gateways on one Redis share one budget', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const g1 = await gatewayWithLimits({
      rateLimiting: { store: new RedisRateLimitStore({ client: c1, prefix: 'shared:' }) },
    });
    const g2 = await gatewayWithLimits({
      rateLimiting: { store: new RedisRateLimitStore({ client: c2, prefix: 'shared:' }) },
    });
    const statuses: number[] = [];
    for (const g of [g1, g2, g1, g2, g1])
      statuses.push((await get(g, '/limited', { userId: 7 })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect((await get(g2, '/limited', { userId: 7 })).statusCode).toBe(429);
    expect((await get(g1, '/limited', { userId: 7 })).statusCode).toBe(429);
    expect((await get(g1, '/limited', { userId: 8 })).statusCode).toBe(200);
  });

  it('Redis stopped mid-test: falls back to local limits and says so; shared again once Redis is back', async () => {
    const c = client();
    await ready(c);
    const g = await gatewayWithLimits({
      rateLimiting: { store: new RedisRateLimitStore({ client: c, prefix: 'stop:' }) },
    });
    const events: string[] = [];
    g.on('ratelimit:fallback', (e) => events.push(`fallback ${e.store}`));
    g.on('ratelimit:recovered', (e) => events.push(`recovered ${e.store}`));
    for (let i = 0; i < 3; i++)
      expect((await get(g, '/limited', { userId: 9 })).statusCode).toBe(200);

    await redis.stop();
    for (let i = 0; i < 20 && c.status === 'ready'; i++)
      await new Promise((r) => setTimeout(r, 25));
    // Local limits: a fresh local budget of 5, then 429; never a hang, never a 5xx.
    const local: number[] = [];
    for (let i = 0; i < 6; i++) local.push((await get(g, '/limited', { userId: 9 })).statusCode);
    expect(local).toEqual([200, 200, 200, 200, 200, 429]);
    expect(events).toEqual(['fallback redis']);

    await redis.restart();
    await ready(c);
    expect((await get(g, '/limited', { userId: 10 })).statusCode).toBe(200);
    expect(events).toEqual(['fallback redis', 'recovered redis']);
  });
});
