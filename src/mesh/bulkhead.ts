/**
 * `BulkheadPolicy`: at most `maxConcurrent` calls of a plugin run at once, at most `maxQueued` wait,
 * and beyond that a call is refused at once. A waiting call whose deadline passes is answered then and
 * dropped from the line: it never runs late. The line itself is a p-queue.
 * @module
 */
import PQueue from 'p-queue';
import { DeadlineQueue } from '../loader/deadlines.js';

export interface BulkheadOptions {
  maxConcurrent: number;
  maxQueued: number;
}

/** The call was refused: the line is full. */
export const BULKHEAD_FULL = Symbol('bulkhead-full');
/** The call's deadline passed while it waited; it did not run. */
export const EXPIRED_IN_QUEUE = Symbol('expired-in-queue');
/** The bulkhead was closed (its plugin unloaded) while the call waited; it did not run. */
export const BULKHEAD_CLOSED = Symbol('bulkhead-closed');

interface Waiter {
  answered: boolean;
  resolve: (value: typeof EXPIRED_IN_QUEUE | typeof BULKHEAD_CLOSED) => void;
}

export class BulkheadPolicy {
  readonly #queue: PQueue;
  readonly #deadlines = new Map<number, DeadlineQueue<Waiter>>();
  #closed = false;

  constructor(readonly options: BulkheadOptions) {
    this.#queue = new PQueue({ concurrency: options.maxConcurrent });
  }

  /** Calls running now. */
  get running(): number {
    return this.#queue.pending;
  }

  /** Calls waiting for a place. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Runs `fn(remainingMs)` when a place is free. Resolves with its result, `BULKHEAD_FULL` at once when
   * the line is full, or `EXPIRED_IN_QUEUE` at the deadline when it waited that long.
   */
  execute<T>(
    fn: (remainingMs: number) => Promise<T>,
    timeoutMs: number,
  ): Promise<T | typeof BULKHEAD_FULL | typeof EXPIRED_IN_QUEUE | typeof BULKHEAD_CLOSED> {
    const queue = this.#queue;
    if (queue.pending < this.options.maxConcurrent && queue.size === 0) {
      return queue.add(() => fn(timeoutMs)) as Promise<T>;
    }
    if (queue.size >= this.options.maxQueued) return Promise.resolve(BULKHEAD_FULL);
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve) => {
      const waiter: Waiter = { answered: false, resolve };
      const deadlines = this.#deadlinesFor(timeoutMs);
      deadlines.add(waiter);
      void queue.add(async () => {
        if (waiter.answered) return;
        waiter.answered = true;
        deadlines.trim();
        resolve(await fn(Math.max(0, deadline - performance.now())));
      });
    });
  }

  /** Answers every waiting call with `BULKHEAD_CLOSED` and stops the deadline timers. */
  close(): void {
    this.#closed = true;
    for (const d of this.#deadlines.values()) {
      d.close();
      d.expireAll();
    }
    this.#queue.clear();
  }

  #deadlinesFor(timeoutMs: number): DeadlineQueue<Waiter> {
    let d = this.#deadlines.get(timeoutMs);
    if (!d) {
      d = new DeadlineQueue<Waiter>(timeoutMs, (w) => {
        w.answered = true;
        w.resolve(this.#closed ? BULKHEAD_CLOSED : EXPIRED_IN_QUEUE);
      });
      this.#deadlines.set(timeoutMs, d);
    }
    return d;
  }
}
