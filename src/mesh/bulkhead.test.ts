import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BULKHEAD_CLOSED, BULKHEAD_FULL, BulkheadPolicy, EXPIRED_IN_QUEUE } from './bulkhead.js';

describe('BulkheadPolicy', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const deferred = () => {
    let resolve!: (v: string) => void;
    const promise = new Promise<string>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('runs up to maxConcurrent, queues up to maxQueued in order, refuses beyond at once', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    const started: string[] = [];
    const a = bulkhead.execute(() => (started.push('a'), first.promise), 1000);
    const b = bulkhead.execute(async () => (started.push('b'), 'b'), 1000);
    expect(await bulkhead.execute(async () => 'c', 1000)).toBe(BULKHEAD_FULL);
    expect([bulkhead.running, bulkhead.queued, started]).toEqual([1, 1, ['a']]);
    first.resolve('a');
    expect(await a).toBe('a');
    expect(await b).toBe('b');
    expect(started).toEqual(['a', 'b']);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });

  it('answers a waiting call at its deadline and never runs it; its place goes to the next', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 5 });
    const first = deferred();
    const ran: string[] = [];
    void bulkhead.execute(() => first.promise, 1000);
    const late = bulkhead.execute(async () => void ran.push('late'), 100);
    const patient = bulkhead.execute(
      async (remaining) => (ran.push(`patient ${remaining}`), 'ok'),
      1000,
    );
    vi.advanceTimersByTime(100);
    expect(await late).toBe(EXPIRED_IN_QUEUE);
    vi.advanceTimersByTime(50);
    first.resolve('first');
    expect(await patient).toBe('ok');
    expect(ran).toEqual(['patient 850']);
  });

  it('gives the place back when the call rejects', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 0 });
    await expect(bulkhead.execute(() => Promise.reject(new Error('boom')), 100)).rejects.toThrow(
      'boom',
    );
    expect(await bulkhead.execute(async () => 'next', 100)).toBe('next');
  });

  it('answers waiting calls BULKHEAD_CLOSED when closed', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 5 });
    void bulkhead.execute(() => new Promise(() => {}), 1000);
    const waiting = bulkhead.execute(async () => 'never', 1000);
    bulkhead.close();
    expect(await waiting).toBe(BULKHEAD_CLOSED);
  });

  it('keeps one deadline timer whatever the number of distinct timeouts, and nothing once answered', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 2000 });
    const first = deferred();
    void bulkhead.execute(() => first.promise, 10_000);
    const waiting = Array.from({ length: 1000 }, (_, n) =>
      bulkhead.execute(async () => 'ran', 5000 + n + 0.5),
    );
    expect(vi.getTimerCount()).toBe(1);
    first.resolve('first');
    expect(new Set(await Promise.all(waiting))).toEqual(new Set(['ran']));
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
    vi.advanceTimersByTime(10_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('BulkheadPolicy.enter() and leave()', () => {
  it('takes a place only when one is free and nobody waits; leave() hands it to the first waiter', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 1 });
    expect(bulkhead.enter()).toBe(true);
    expect(bulkhead.enter()).toBe(false);
    expect(bulkhead.running).toBe(1);
    const order: string[] = [];
    const waiting = bulkhead.execute(async () => void order.push('waiter'), 1000);
    expect(bulkhead.queued).toBe(1);
    bulkhead.leave();
    await waiting;
    expect(order).toEqual(['waiter']);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
    expect(bulkhead.enter()).toBe(true);
  });
});
