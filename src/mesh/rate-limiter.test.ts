import { describe, expect, it } from 'vitest';
import { gcra } from './gcra.js';
import { MemoryRateLimitStore, type RateLimitStore } from './rate-limit-store.js';
import { RateLimiter, rateLimitHeaders } from './rate-limiter.js';

const perMinute = (limit: number) => ({ limit, windowMs: 60_000 });

describe('GCRA', () => {
  it('lets a new caller send n at once, refuses the next, and says when to come back', () => {
    const store = new MemoryRateLimitStore({ now: () => 0 });
    const rate = perMinute(100);
    const decisions = Array.from({ length: 101 }, () => store.take('e', 'ada', rate));
    expect(decisions.slice(0, 100).every((d) => d.allowed)).toBe(true);
    expect(decisions[0]!.remaining).toBe(99);
    expect(decisions[99]!.remaining).toBe(0);
    expect(decisions[100]).toEqual({
      allowed: false,
      remaining: 0,
      retryAfterMs: 600,
      resetMs: 60_000,
    });
  });

  it('refills smoothly: one request every window / n, never 2n at a boundary', () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    const rate = perMinute(60);
    for (let i = 0; i < 60; i++) store.take('e', 'ada', rate);
    now = 59_999; // a fixed window would reset at 60 000 and allow 60 more
    let allowed = 0;
    for (let i = 0; i < 120; i++) if (store.take('e', 'ada', rate).allowed) allowed++;
    expect(allowed).toBe(59);
    now += 1000;
    expect(store.take('e', 'ada', rate).allowed).toBe(true);
    expect(store.take('e', 'ada', rate).allowed).toBe(false);
  });

  it('keeps callers apart, and forgets a caller whose budget is full again', () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    store.take('e', 'ada', perMinute(1));
    expect(store.take('e', 'ada', perMinute(1)).allowed).toBe(false);
    expect(store.take('e', 'grace', perMinute(1)).allowed).toBe(true);
    expect(gcra(undefined, perMinute(1), 0).decision.allowed).toBe(true);
    now = 120_000;
    for (let i = 0; i < 10_000; i++) store.take('e', `k${i % 2}`, perMinute(1_000_000));
    expect(store.size).toBeLessThanOrEqual(2);
  });

  it('holds at most maxCallers however many callers there are, forgetting the oldest first', () => {
    const now = 0;
    const store = new MemoryRateLimitStore({ now: () => now, maxCallers: 100 });
    for (let i = 0; i < 5000; i++) store.take(`e${i % 3}`, `addr-${i}`, perMinute(10));
    expect(store.size).toBe(100);
    // The newest are still limited; the oldest were forgotten.
    for (let i = 0; i < 9; i++) store.take('e1', 'addr-4999', perMinute(10));
    expect(store.take('e1', 'addr-4999', perMinute(10)).allowed).toBe(false);
    expect(store.size).toBe(100);
  });
});

describe('RateLimiter', () => {
  it('falls back to local limits when the shared store fails, and says when it recovers', async () => {
    let up = true;
    const shared: RateLimitStore = {
      kind: 'redis',
      take: async (scope, caller, rate) => {
        if (!up) throw new Error('connection refused');
        return new MemoryRateLimitStore().take(scope, caller, rate);
      },
    };
    const events: string[] = [];
    const limiter = new RateLimiter(shared, 50, {
      onFallback: (store, reason) => events.push(`fallback ${store}: ${reason}`),
      onRecovered: (store) => events.push(`recovered ${store}`),
    });
    expect((await limiter.take('e', 'a', perMinute(1))).allowed).toBe(true);
    up = false;
    expect((await limiter.take('e', 'a', perMinute(1))).allowed).toBe(true);
    expect((await limiter.take('e', 'a', perMinute(1))).allowed).toBe(false);
    expect(limiter.degraded).toBe(true);
    up = true;
    await limiter.take('e', 'b', perMinute(1));
    expect(events).toEqual(['fallback redis: connection refused', 'recovered redis']);
  });

  it('treats a store that does not answer in time as failed', async () => {
    const silent: RateLimitStore = { kind: 'redis', take: () => new Promise(() => {}) };
    const events: string[] = [];
    const limiter = new RateLimiter(silent, 20, {
      onFallback: (_s, reason) => events.push(reason),
      onRecovered: () => {},
    });
    expect((await limiter.take('e', 'a', perMinute(1))).allowed).toBe(true);
    expect(events).toEqual(['no answer within 20 ms']);
  });

  it('writes Retry-After and the IETF RateLimit headers', () => {
    expect(
      rateLimitHeaders(perMinute(100), {
        allowed: false,
        remaining: 0,
        retryAfterMs: 600,
        resetMs: 60_000,
      }),
    ).toEqual({
      'retry-after': '1',
      'ratelimit-policy': '"endpoint";q=100;w=60',
      ratelimit: '"endpoint";r=0;t=1',
    });
  });
});
