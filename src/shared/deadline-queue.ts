/**
 * `DeadlineQueue`: every deadline of a runtime (or a bulkhead) in one binary min-heap keyed by the absolute
 * time it runs out, served by one timer. Adding a deadline is a heap push rather than a timer: a timer armed
 * and cleared per request costs more than the rest of the gateway's own work on it. An item answered in
 * time is taken out of the heap at once (`remove`), so the heap holds exactly the items still waiting, and
 * nothing it keeps grows with the number of distinct timeouts callers choose (one queue per timeout value
 * did, and was never freed: issue 14, item 9).
 *
 * Deadlines that all run out after the same delay are pushed in increasing order, so a push is one
 * comparison with its parent and a removal of the oldest is a sift of log2(in flight) levels.
 * @module
 */

/** Anything with a deadline; the queue owns `deadlineAt` and `deadlineIndex` (-1 when not queued). */
export interface Expirable {
  answered: boolean;
  deadlineAt: number;
  deadlineIndex: number;
}

/** The longest delay `setTimeout` honours; a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineQueue<T extends Expirable> {
  readonly #heap: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (`Infinity` when none is armed). */
  #armedAt = Infinity;
  #closed = false;

  constructor(readonly onExpire: (item: T) => void) {}

  /** Starts `item`'s deadline: `delayMs` from now. */
  add(item: T, delayMs: number): void {
    const now = performance.now();
    const at = now + delayMs;
    item.deadlineAt = at;
    const heap = this.#heap;
    item.deadlineIndex = heap.length;
    heap.push(item);
    this.#up(item.deadlineIndex);
    if (at < this.#armedAt && !this.#closed) this.#arm(delayMs, now);
  }

  /** Takes `item` out (it was answered); a no-op when it is not queued. */
  remove(item: T): void {
    const i = item.deadlineIndex;
    const heap = this.#heap;
    if (i < 0 || heap[i] !== item) return;
    item.deadlineIndex = -1;
    const last = heap.pop()!;
    if (last === item) return;
    heap[i] = last;
    last.deadlineIndex = i;
    if (i > 0 && heap[(i - 1) >> 1]!.deadlineAt > last.deadlineAt) this.#up(i);
    else this.#down(i);
  }

  /** Items waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Hands every unanswered item to `onExpire` now, and empties the queue. */
  expireAll(): void {
    const items = this.#heap.splice(0);
    for (const item of items) {
      item.deadlineIndex = -1;
      if (!item.answered) this.onExpire(item);
    }
  }

  /** Stops the timer; pending items never expire. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const heap = this.#heap;
    const now = performance.now();
    while (heap.length > 0 && heap[0]!.deadlineAt <= now) {
      const item = heap[0]!;
      this.remove(item);
      if (!item.answered) this.onExpire(item);
    }
    if (heap.length > 0 && !this.#closed) {
      const later = performance.now(); // the expiries above took time
      this.#arm(heap[0]!.deadlineAt - later, later);
    }
  };

  /** Arms the timer `ms` after `now` (the `performance.now()` the caller read: one clock read a request). */
  #arm(ms: number, now: number): void {
    clearTimeout(this.#timer);
    // A delay past setTimeout's limit would fire at once: wake at the limit and look again.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms)));
    this.#armedAt = now + delay;
    // Unref'd: a request in flight keeps the process alive through its worker, not through this timer.
    this.#timer = setTimeout(this.#fire, delay).unref();
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.deadlineAt <= item.deadlineAt) break;
      heap[i] = parent;
      parent.deadlineIndex = i;
      i = p;
    }
    heap[i] = item;
    item.deadlineIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]!.deadlineAt < heap[c]!.deadlineAt) c++;
      const child = heap[c]!;
      if (child.deadlineAt >= item.deadlineAt) break;
      heap[i] = child;
      child.deadlineIndex = i;
      i = c;
    }
    heap[i] = item;
    item.deadlineIndex = i;
  }
}
