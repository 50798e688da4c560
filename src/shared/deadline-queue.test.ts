import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue } from './deadline-queue.js';

describe('DeadlineQueue', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const item = () => ({ answered: false });

  it('expires unanswered items at their deadline, in order, with one timer', () => {
    const expired: object[] = [];
    const queue = new DeadlineQueue(100, (i) => expired.push(i));
    const a = item();
    const b = item();
    const c = item();
    queue.add(a);
    vi.advanceTimersByTime(40);
    queue.add(b);
    queue.add(c);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    expect(expired).toEqual([a]);
    b.answered = true;
    vi.advanceTimersByTime(40);
    expect(expired).toEqual([a, c]);
    expect(queue.size).toBe(0);
  });

  it('drops answered items from the front at once, so they can be collected', () => {
    const queue = new DeadlineQueue(100, () => {});
    const items = Array.from({ length: 5 }, item);
    for (const i of items) queue.add(i);
    items[1]!.answered = true;
    queue.trim();
    expect(queue.size).toBe(5);
    items[0]!.answered = true;
    queue.trim();
    expect(queue.size).toBe(3);
  });

  it('never expires anything once closed', () => {
    const onExpire = vi.fn();
    const queue = new DeadlineQueue(100, onExpire);
    queue.add(item());
    queue.close();
    vi.advanceTimersByTime(1000);
    expect(onExpire).not.toHaveBeenCalled();
  });
});
