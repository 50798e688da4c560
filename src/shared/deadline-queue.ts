/**
 * `DeadlineQueue`: deadlines that all run out after the same delay expire in the order they were set,
 * so one timer serves the whole queue. Adding a deadline is an array push rather than a timer: a
 * timer armed and cleared per request costs more than the rest of the gateway's own work on it.
 * @module
 */

/** Anything with a deadline; `answered` items are skipped when their time comes. */
export interface Expirable {
  answered: boolean;
}

const COMPACT_AFTER = 1024;

export class DeadlineQueue<T extends Expirable> {
  #items: T[] = [];
  #at: number[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly delayMs: number,
    readonly onExpire: (item: T) => void,
  ) {}

  /** Starts `item`'s deadline: `delayMs` from now. */
  add(item: T): void {
    this.#items.push(item);
    this.#at.push(performance.now() + this.delayMs);
    if (this.#timer === undefined) this.#arm(this.delayMs);
  }

  /** Drops answered items from the front so they can be collected; call when one is answered. */
  trim(): void {
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.answered) this.#head++;
    this.#compact();
  }

  /** Items still waiting (answered ones behind an unanswered head included). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Hands every unanswered item to `onExpire` now. */
  expireAll(): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (!item.answered) this.onExpire(item);
    }
    this.#items.length = 0;
    this.#at.length = 0;
    this.#head = 0;
  }

  /** Stops the timer; pending items never expire. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const items = this.#items;
    while (this.#head < items.length) {
      const item = items[this.#head]!;
      if (!item.answered) {
        if (this.#at[this.#head]! > now) break;
        this.onExpire(item);
      }
      this.#head++;
    }
    this.#compact();
    if (this.#head < items.length) this.#arm(this.#at[this.#head]! - now);
  };

  #arm(ms: number): void {
    // Unref'd: a request in flight keeps the process alive through its worker, not through this timer.
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(ms))).unref();
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#at.length = 0;
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#at = this.#at.slice(this.#head);
      this.#head = 0;
    }
  }
}
