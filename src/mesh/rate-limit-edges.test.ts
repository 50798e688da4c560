// Rate limits at the edges their unit tests left open (docs/mutation-testing.md, mesh): a clock that
// does not start at 0, a caller back after a long idle time, a full store, a shared store that fails
// twice, and who counts as the same caller.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gcra } from './gcra.js';
import { addressCaller, MemoryRateLimitStore, type RateLimitStore } from './rate-limit-store.js';
import { RateLimiter, rateLimitHeaders } from './rate-limiter.js';

const perMinute = (limit: number) => ({ limit, windowMs: 60_000 });
const MINUTE = 60_000;

describe('GCRA on a clock that does not start at 0', () => {
  it('gives the same decisions at any time', () => {
    const t = 1_000_000;
    const rate = perMinute(4);
    const first = gcra(undefined, rate, t);
    expect(first).toEqual({
      decision: { allowed: true, remaining: 3, retryAfterMs: 0, resetMs: 15_000 },
      tat: t + 15_000,
    });
    const full = gcra(t + MINUTE, rate, t);
    expect(full).toEqual({
      decision: { allowed: false, remaining: 0, retryAfterMs: 15_000, resetMs: MINUTE },
      tat: t + MINUTE,
    });
  });

  it('gives a caller back after a long idle time its budget, not more', () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    expect(store.take('e', 'ada', perMinute(2)).allowed).toBe(true);
    now = 600 * MINUTE;
    const allowed = Array.from({ length: 5 }, () => store.take('e', 'ada', perMinute(2)).allowed);
    expect(allowed).toEqual([true, true, false, false, false]);
  });
});

describe('a full memory store', () => {
  it('first drops the callers whose budget is full again, keeping one still limited', () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now, maxCallers: 10 });
    const daily = { limit: 10, windowMs: 24 * 60 * MINUTE };
    for (let i = 0; i < 10; i++) store.take('e', 'limited', daily);
    expect(store.take('e', 'limited', daily).allowed).toBe(false);
    for (let i = 0; i < 9; i++) store.take('e', `idle-${i}`, perMinute(10));
    expect(store.size).toBe(10);
    now = 10 * MINUTE;
    store.take('e', 'newcomer', perMinute(10));
    // The nine idle callers were dropped, not the oldest one, which is still limited.
    expect(store.size).toBe(2);
    expect(store.take('e', 'limited', daily).allowed).toBe(false);
  });

  it('forgets the oldest caller of the scope that needs room, or of another scope when it has none', () => {
    const store = new MemoryRateLimitStore({ now: () => 0, maxCallers: 2 });
    const limit = (scope: string, caller: string) => {
      store.take(scope, caller, perMinute(1));
      return store.take(scope, caller, perMinute(1)).allowed;
    };
    expect(limit('a', 'a1')).toBe(false);
    expect(limit('b', 'b1')).toBe(false);
    // a2 in scope a: a1 (oldest in a) is forgotten, b1 is still limited.
    expect(limit('a', 'a2')).toBe(false);
    expect(store.size).toBe(2);
    expect(store.take('b', 'b1', perMinute(1)).allowed).toBe(false);
    // c1 in a scope of its own: the oldest of another scope goes.
    expect(limit('c', 'c1')).toBe(false);
    expect(store.size).toBe(2);
  });

  it('never forgets a limited caller in its periodic sweep', () => {
    let now = 0;
    const store = new MemoryRateLimitStore({ now: () => now });
    const hourly = { limit: 1, windowMs: 60 * MINUTE };
    store.take('e', 'limited', hourly);
    now = MINUTE;
    for (let i = 0; i < 10_000; i++) store.take('e', `other-${i % 5}`, perMinute(1_000_000));
    expect(store.take('e', 'limited', hourly).allowed).toBe(false);
  });

  it("is of kind 'memory'", () => {
    expect(new MemoryRateLimitStore().kind).toBe('memory');
  });
});

describe('RateLimiter', () => {
  afterEach(() => vi.useRealTimers());
  const quiet = { onFallback: () => {}, onRecovered: () => {} };

  it('decides synchronously over the memory store', () => {
    const limiter = new RateLimiter(new MemoryRateLimitStore(), 50, quiet);
    const decision = limiter.take('e', 'a', perMinute(1));
    expect(decision).not.toBeInstanceOf(Promise);
    expect(decision).toMatchObject({ allowed: true });
  });

  it('reports each outage of the shared store, and is not degraded once it answers again', async () => {
    let up = true;
    const shared: RateLimitStore = {
      kind: 'redis',
      take: async () => {
        if (!up) throw new Error('down');
        return { allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 0 };
      },
    };
    const events: string[] = [];
    const limiter = new RateLimiter(shared, 50, {
      onFallback: (store, reason) => events.push(`fallback ${store} ${reason}`),
      onRecovered: (store) => events.push(`recovered ${store}`),
    });
    for (const state of [false, true, false, true]) {
      up = state;
      await limiter.take('e', 'a', perMinute(100));
      await limiter.take('e', 'a', perMinute(100));
      expect(limiter.degraded).toBe(!state);
    }
    expect(events).toEqual([
      'fallback redis down',
      'recovered redis',
      'fallback redis down',
      'recovered redis',
    ]);
  });

  it('leaves no timer behind once the shared store has answered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const shared: RateLimitStore = {
      kind: 'redis',
      take: async () => ({ allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 0 }),
    };
    const limiter = new RateLimiter(shared, 60_000, quiet);
    await limiter.take('e', 'a', perMinute(1));
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('rate-limit headers', () => {
  it('round Retry-After up to whole seconds, at least 1', () => {
    const at = (retryAfterMs: number) =>
      rateLimitHeaders(perMinute(10), { allowed: false, remaining: 0, retryAfterMs, resetMs: 0 });
    expect(at(2500)).toMatchObject({ 'retry-after': '3', ratelimit: '"endpoint";r=0;t=3' });
    expect(at(0)).toMatchObject({ 'retry-after': '1' });
    expect(at(3000)).toMatchObject({ 'retry-after': '3' });
  });
});

describe('who is the same caller', () => {
  it('an IPv4 address as it is, also written IPv4-mapped', () => {
    expect(addressCaller('10.20.30.40')).toBe('10.20.30.40');
    expect(addressCaller('::ffff:10.20.30.40')).toBe('10.20.30.40');
    expect(addressCaller('::FFFF:1.2.3.4')).toBe('1.2.3.4');
  });

  it('an IPv6 address as its /64, however it is written', () => {
    expect(addressCaller('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressCaller('2001:0DB8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressCaller('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressCaller('2001:db8:1::')).toBe('2001:db8:1:0::/64');
    expect(addressCaller('::1')).toBe('0:0:0:0::/64');
    expect(addressCaller('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressCaller('1::ffff:1.2.3.4')).toBe('1:0:0:0::/64');
    // Groups after the "::" can reach into the prefix.
    expect(addressCaller('::1:2:3:4:5:6:7')).toBe('0:1:2:3::/64');
    expect(addressCaller('1::2:3:4:5:6')).toBe('1:0:0:2::/64');
  });

  it('anything else as it is', () => {
    expect(addressCaller('::ffff:1.2.3.4.5')).toBe('::ffff:1.2.3.4.5');
    expect(addressCaller('unix-socket')).toBe('unix-socket');
    expect(addressCaller('')).toBe('');
  });
});
