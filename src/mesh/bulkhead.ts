/**
 * `BulkheadPolicy`: at most `maxConcurrent` calls of a plugin run at once, at most `maxQueued` wait,
 * and beyond that a call is refused at once. A waiting call whose deadline passes is answered then and
 * dropped from the line: it never runs late.
 *
 * A counter and a FIFO rather than p-queue: the bulkhead is on every request, and p-queue's `add()`
 * measured 3.2 µs per call on this project's machine against 0.1 µs for the counter (bench/RESULTS.md).
 * @module
 */
import { DeadlineQueue } from '../shared/deadline-queue.js';

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

type Refusal = typeof BULKHEAD_FULL | typeof EXPIRED_IN_QUEUE | typeof BULKHEAD_CLOSED;

interface Waiter {
  answered: boolean;
  deadline: number;
  deadlineAt: number;
  deadlineIndex: number;
  start: () => void;
  resolve: (value: typeof EXPIRED_IN_QUEUE | typeof BULKHEAD_CLOSED) => void;
}

const isRefusal = (value: unknown): value is Refusal =>
  value === BULKHEAD_FULL || value === EXPIRED_IN_QUEUE || value === BULKHEAD_CLOSED;

export class BulkheadPolicy {
  #running = 0;
  #waiting: Waiter[] = [];
  #head = 0;
  #closed = false;
  /** Every waiter's deadline, whatever its timeout: one heap and one timer. */
  readonly #deadlines = new DeadlineQueue<Waiter>((w) => {
    w.answered = true;
    w.resolve(this.#closed ? BULKHEAD_CLOSED : EXPIRED_IN_QUEUE);
  });

  constructor(readonly options: BulkheadOptions) {}

  /** Calls running now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a place (answered ones not yet dropped from the line included). */
  get queued(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Runs `fn(remainingMs)` when a place is free. Resolves with its result, `BULKHEAD_FULL` at once when
   * the line is full, `EXPIRED_IN_QUEUE` at the deadline when it waited that long, or `BULKHEAD_CLOSED`.
   */
  execute<T>(fn: (remainingMs: number) => Promise<T>, timeoutMs: number): Promise<T | Refusal> {
    if (this.#running < this.options.maxConcurrent && this.queued === 0) {
      this.#running++;
      return fn(timeoutMs).then(this.#released, this.#releasedOnError);
    }
    return this.#wait(fn, timeoutMs);
  }

  /**
   * Takes a place at once when one is free and nobody waits, and says so; the caller then gives it
   * back with {@link leave} when its call ends, settled or thrown. False: nothing was taken (`run`
   * queues the call). The request path's way of holding a place without a promise step of its own.
   */
  enter(): boolean {
    if (this.#running >= this.options.maxConcurrent || this.queued !== 0) return false;
    this.#running++;
    return true;
  }

  /** Gives back a place taken by {@link enter}; the first call still waiting takes it. */
  leave(): void {
    this.#release();
  }

  /**
   * {@link execute} with its refusals answered by `refused`. With a place free (the common case) this
   * is one promise step, not two: the request path pays for every step of every request.
   */
  run<T>(
    fn: (remainingMs: number) => Promise<T>,
    timeoutMs: number,
    refused: (refusal: Refusal) => T | Promise<T>,
  ): Promise<T>;
  /**
   * {@link run}, whose outcome (the call's result, or `refused`'s answer) is handed on as `after` makes
   * it, in the same promise step as the place is given back: the request path's last step.
   */
  run<T, U>(
    fn: (remainingMs: number) => Promise<T>,
    timeoutMs: number,
    refused: (refusal: Refusal) => T | Promise<T>,
    after: (outcome: T) => U,
  ): Promise<U>;
  run<T>(
    fn: (remainingMs: number) => Promise<T>,
    timeoutMs: number,
    refused: (refusal: Refusal) => T | Promise<T>,
    after?: (outcome: T) => unknown,
  ): Promise<unknown> {
    if (this.#running < this.options.maxConcurrent && this.queued === 0) {
      this.#running++;
      const done = fn(timeoutMs);
      return after === undefined
        ? done.then(this.#released, this.#releasedOnError)
        : done.then((value) => after(this.#released(value)), this.#releasedOnError);
    }
    const outcome = this.#wait(fn, timeoutMs).then((o) => (isRefusal(o) ? refused(o) : (o as T)));
    return after === undefined ? outcome : outcome.then(after);
  }

  /** A call that found no place free: in line, refused, or closed. */
  #wait<T>(fn: (remainingMs: number) => Promise<T>, timeoutMs: number): Promise<T | Refusal> {
    this.#trim();
    if (this.#closed) return Promise.resolve(BULKHEAD_CLOSED);
    if (this.queued >= this.options.maxQueued) return Promise.resolve(BULKHEAD_FULL);
    return new Promise<T | Refusal>((resolve, reject) => {
      const waiter: Waiter = {
        answered: false,
        deadline: performance.now() + timeoutMs,
        deadlineAt: 0,
        deadlineIndex: -1,
        resolve,
        start: () => {
          this.#running++;
          fn(Math.max(0, waiter.deadline - performance.now())).then(
            (value) => resolve(this.#released(value)),
            // As for a call that ran at once: the caller gets the error (before, it was thrown into
            // a detached promise, and the caller was never answered).
            (error: unknown) => {
              this.#release();
              reject(error);
            },
          );
        },
      };
      this.#waiting.push(waiter);
      this.#deadlines.add(waiter, timeoutMs);
    });
  }

  /** Answers every waiting call with `BULKHEAD_CLOSED` and stops the deadline timers. */
  close(): void {
    this.#closed = true;
    this.#deadlines.close();
    this.#deadlines.expireAll();
  }

  readonly #released = <T>(value: T): T => {
    this.#release();
    return value;
  };

  readonly #releasedOnError = (error: unknown): never => {
    this.#release();
    throw error;
  };

  /** A place is free: the first waiter still waiting takes it. */
  #release(): void {
    this.#running--;
    while (this.#head < this.#waiting.length) {
      const waiter = this.#waiting[this.#head++]!;
      if (waiter.answered) continue;
      waiter.answered = true;
      this.#deadlines.remove(waiter);
      this.#trim();
      waiter.start();
      return;
    }
    this.#trim();
  }

  #trim(): void {
    while (this.#head < this.#waiting.length && this.#waiting[this.#head]!.answered) this.#head++;
    if (this.#head === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
