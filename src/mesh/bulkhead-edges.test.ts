// The bulkhead at the edges its unit tests left open (docs/mutation-testing.md, mesh): a waiting call
// that fails, a line of expired calls, a call made after close, and what `queued` counts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BULKHEAD_CLOSED, BULKHEAD_FULL, BulkheadPolicy, EXPIRED_IN_QUEUE } from './bulkhead.js';

describe('BulkheadPolicy edges', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const deferred = () => {
    let resolve!: (v: string) => void;
    const promise = new Promise<string>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('hands the error of a call that waited to its caller, and gives its place back', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 2 });
    const first = deferred();
    const running = bulkhead.execute(() => first.promise, 1000);
    const failing = bulkhead.execute(() => Promise.reject(new Error('boom')), 1000);
    const next = bulkhead.execute(async () => 'next', 1000);
    first.resolve('first');
    expect(await running).toBe('first');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });

  it('run() with `after`: the outcome passes through it once the place is given back, refusals too', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    const seen: string[] = [];
    const after = (outcome: string) => {
      // In the step that gave the place back: the waiting call has it already.
      seen.push(`${outcome} running=${bulkhead.running} queued=${bulkhead.queued}`);
      return outcome.toUpperCase();
    };
    const refused = (refusal: symbol) => String(refusal.description);
    const running = bulkhead.run(() => first.promise, 1000, refused, after);
    const waiting = bulkhead.run(async () => 'second', 1000, refused, after);
    const full = bulkhead.run(async () => 'never', 1000, refused, after);
    expect(await full).toBe('BULKHEAD-FULL');
    first.resolve('first');
    expect(await running).toBe('FIRST');
    expect(await waiting).toBe('SECOND');
    expect(seen).toEqual([
      'bulkhead-full running=1 queued=1',
      'first running=1 queued=0',
      'second running=0 queued=0',
    ]);
    // A failing call never reaches `after`, and still gives its place back.
    await expect(
      bulkhead.run(() => Promise.reject(new Error('boom')), 1000, refused, after),
    ).rejects.toThrow('boom');
    expect([bulkhead.running, bulkhead.queued, seen.length]).toEqual([0, 0, 3]);
  });

  it('counts as queued only the calls still in the line', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 5 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const calls = gates.map((g) => bulkhead.execute(() => g.promise, 1000));
    expect([bulkhead.running, bulkhead.queued]).toEqual([1, 3]);
    gates[0]!.resolve('a');
    await calls[0];
    expect([bulkhead.running, bulkhead.queued]).toEqual([1, 2]);
    gates[1]!.resolve('b');
    await calls[1];
    expect([bulkhead.running, bulkhead.queued]).toEqual([1, 1]);
  });

  it('does not count calls that expired in the line against its length', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 2 });
    void bulkhead.execute(() => new Promise(() => {}), 10_000);
    const expiring = [
      bulkhead.execute(async () => 'late', 100),
      bulkhead.execute(async () => 'late', 100),
    ];
    expect(await bulkhead.execute(async () => 'full', 100)).toBe(BULKHEAD_FULL);
    vi.advanceTimersByTime(100);
    expect(await Promise.all(expiring)).toEqual([EXPIRED_IN_QUEUE, EXPIRED_IN_QUEUE]);
    // Both places in the line are free again: two more calls wait, a third is refused.
    const waiting = [
      bulkhead.execute(async () => 'w', 100),
      bulkhead.execute(async () => 'w', 100),
    ];
    expect(bulkhead.queued).toBe(2);
    expect(await bulkhead.execute(async () => 'full', 100)).toBe(BULKHEAD_FULL);
    vi.advanceTimersByTime(100);
    expect(await Promise.all(waiting)).toEqual([EXPIRED_IN_QUEUE, EXPIRED_IN_QUEUE]);
  });

  it('answers a call that would wait on a closed bulkhead BULKHEAD_CLOSED at once', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 5 });
    void bulkhead.execute(() => new Promise(() => {}), 1000);
    bulkhead.close();
    expect(await bulkhead.execute(async () => 'never', 1000)).toBe(BULKHEAD_CLOSED);
    expect(bulkhead.queued).toBe(0);
  });

  it('keeps the order and the counts over a long line (its storage is compacted as it goes)', async () => {
    const bulkhead = new BulkheadPolicy({ maxConcurrent: 1, maxQueued: 5000 });
    const first = deferred();
    const order: number[] = [];
    void bulkhead.execute(() => first.promise, 10_000);
    const calls = Array.from({ length: 3000 }, (_, n) =>
      bulkhead.execute(async () => void order.push(n), 10_000),
    );
    first.resolve('go');
    await Promise.all(calls);
    expect(order).toEqual(Array.from({ length: 3000 }, (_, n) => n));
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
  });
});
