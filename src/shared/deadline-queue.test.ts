import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, MAX_TIMER_MS, type Expirable } from './deadline-queue.js';

describe('DeadlineQueue', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const item = (): Expirable => ({ answered: false, deadlineAt: 0, deadlineIndex: -1 });

  it('expires unanswered items at their deadline, in order, with one timer', () => {
    const expired: object[] = [];
    const queue = new DeadlineQueue((i) => expired.push(i));
    const a = item();
    const b = item();
    const c = item();
    queue.add(a, 100);
    vi.advanceTimersByTime(40);
    queue.add(b, 100);
    queue.add(c, 100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    expect(expired).toEqual([a]);
    b.answered = true;
    queue.remove(b);
    vi.advanceTimersByTime(40);
    expect(expired).toEqual([a, c]);
    expect(queue.size).toBe(0);
  });

  it('serves any mix of timeouts with one timer, each at its own deadline', () => {
    const expired: number[] = [];
    const queue = new DeadlineQueue<Expirable & { ms: number }>((i) => expired.push(i.ms));
    for (const ms of [500, 30, 200, 10, 1000, 30]) queue.add({ ...item(), ms }, ms);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(30);
    expect(expired).toEqual([10, 30, 30]);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([10, 30, 30, 200, 500, 1000]);
  });

  it('keeps nothing behind once items with many distinct timeouts are answered', () => {
    const onExpire = vi.fn();
    const queue = new DeadlineQueue(onExpire);
    const items = Array.from({ length: 10_000 }, (_, n) => {
      const i = item();
      queue.add(i, 1000 + n + Math.random());
      return i;
    });
    // Answered in an order unrelated to their deadlines.
    for (const n of items.map((_, n) => (n * 7919) % items.length)) {
      items[n]!.answered = true;
      queue.remove(items[n]!);
    }
    expect(queue.size).toBe(0);
    expect(items.every((i) => i.deadlineIndex === -1)).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(onExpire).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps the heap in deadline order when items leave from the middle', () => {
    const expired: number[] = [];
    const queue = new DeadlineQueue<Expirable & { ms: number }>((i) => expired.push(i.ms));
    const items = [50, 10, 40, 20, 30, 60, 5].map((ms) => ({ ...item(), ms }));
    for (const i of items) queue.add(i, i.ms);
    queue.remove(items[3]!);
    queue.remove(items[1]!);
    queue.remove(items[1]!);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([5, 30, 40, 50, 60]);
  });

  it('waits in steps for a deadline past what setTimeout honours', () => {
    const onExpire = vi.fn();
    const queue = new DeadlineQueue(onExpire);
    queue.add(item(), MAX_TIMER_MS * 2);
    vi.advanceTimersByTime(1000);
    expect(onExpire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(onExpire).toHaveBeenCalledOnce();
  });

  it('never expires anything once closed', () => {
    const onExpire = vi.fn();
    const queue = new DeadlineQueue(onExpire);
    queue.add(item(), 100);
    queue.close();
    vi.advanceTimersByTime(1000);
    expect(onExpire).not.toHaveBeenCalled();
  });

  it('expireAll hands over every unanswered item and empties the queue', () => {
    const onExpire = vi.fn();
    const queue = new DeadlineQueue(onExpire);
    const a = item();
    const b = { ...item(), answered: true };
    queue.add(a, 100);
    queue.add(b, 50);
    queue.expireAll();
    expect(onExpire.mock.calls).toEqual([[a]]);
    expect(queue.size).toBe(0);
  });
});
