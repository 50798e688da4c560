/**
 * Where rate-limit state lives: the contract, and the in-memory store (the default).
 * @module
 */
import type { Rate } from '../shared/duration.js';
import { gcra, type RateDecision } from './gcra.js';

/** A caller of an endpoint: its `userId`, else its client address. */
export type Caller = string | number;

/** A rate-limit store: takes one request from the budget of `caller` within `scope` (an endpoint). */
export interface RateLimitStore {
  /** `'memory'` or `'redis'`, for logs and metrics. */
  readonly kind: string;
  /**
   * Takes one request from the budget of `caller` in `scope`, at `rate` (at most `rate.limit`
   * requests per `rate.windowMs`), synchronously or not. A store that throws, or does not answer
   * within `rateLimiting.timeout`, is replaced by local limits until it answers again.
   */
  take(scope: string, caller: Caller, rate: Rate): RateDecision | Promise<RateDecision>;
  /**
   * Releases the store's resources. The gateway never calls it: the host owns the store and closes it.
   */
  close?(): Promise<void>;
}

const SWEEP_EVERY = 10_000;

/**
 * Budgets in `Map`s of this process, one per scope keyed by caller (no string is built per request);
 * a caller whose budget is full again is dropped.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  /** Always `'memory'`. */
  readonly kind = 'memory';
  readonly #scopes = new Map<string, Map<Caller, number>>();
  readonly #now: () => number;
  #takes = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Callers held, in every scope (those whose budget is not full). */
  get size(): number {
    let n = 0;
    for (const callers of this.#scopes.values()) n += callers.size;
    return n;
  }

  /** One GCRA step on this process's clock; synchronous, never throws. */
  take(scope: string, caller: Caller, rate: Rate): RateDecision {
    const now = this.#now();
    if (++this.#takes % SWEEP_EVERY === 0) this.#sweep(now);
    let callers = this.#scopes.get(scope);
    if (!callers) this.#scopes.set(scope, (callers = new Map()));
    const step = gcra(callers.get(caller), rate, now);
    callers.set(caller, step.tat);
    return step.decision;
  }

  #sweep(now: number): void {
    for (const callers of this.#scopes.values()) {
      for (const [caller, tat] of callers) if (tat <= now) callers.delete(caller);
    }
  }
}
