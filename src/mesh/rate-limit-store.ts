/**
 * Where rate-limit state lives: the contract, and the in-memory store (the default).
 * @module
 */
import type { Rate } from '../core/duration.js';
import { gcra, type RateDecision } from './gcra.js';

/** A rate-limit store: takes one request from `key`'s budget. */
export interface RateLimitStore {
  /** `'memory'` or `'redis'`, for logs and metrics. */
  readonly kind: string;
  take(key: string, rate: Rate): RateDecision | Promise<RateDecision>;
  close?(): Promise<void>;
}

const SWEEP_EVERY = 10_000;

/** Budgets in a `Map` of this process; a key whose budget is full again is dropped. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  readonly #tat = new Map<string, number>();
  readonly #now: () => number;
  #takes = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Keys held (callers whose budget is not full). */
  get size(): number {
    return this.#tat.size;
  }

  take(key: string, rate: Rate): RateDecision {
    const now = this.#now();
    if (++this.#takes % SWEEP_EVERY === 0) this.#sweep(now);
    const step = gcra(this.#tat.get(key), rate, now);
    this.#tat.set(key, step.tat);
    return step.decision;
  }

  #sweep(now: number): void {
    for (const [key, tat] of this.#tat) if (tat <= now) this.#tat.delete(key);
  }
}
