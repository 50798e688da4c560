/**
 * Where rate-limit state lives: the contract, and the in-memory store (the default).
 * @module
 */
import { isIPv6 } from 'node:net';
import type { Rate } from '../shared/duration.js';
import { gcra, type RateDecision } from './gcra.js';

/** A caller of an endpoint: its `userId`, else its client address. */
export type Caller = string | number;

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The rate-limit caller of a client address: an IPv4 address as it is (also when written IPv4-mapped,
 * `::ffff:a.b.c.d`), an IPv6 address as its /64 — the smallest block a network hands one subscriber, so
 * a client cannot get a fresh budget per request by rotating addresses inside its own prefix.
 */
export function addressCaller(address: string): string {
  const mapped = MAPPED_V4.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const bare = address.split('%')[0]!; // a zone id (fe80::1%eth0) is no part of the prefix
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

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
/** A sweep forced by a full store runs at most this often (in takes): it walks every caller. */
const FORCED_SWEEP_EVERY = 1024;

/**
 * Budgets in `Map`s of this process, one per scope keyed by caller (no string is built per request);
 * a caller whose budget is full again is dropped. Callers are chosen by whoever sends requests (a client
 * address, a user id), so the store holds at most `maxCallers`: past that, once callers whose budget is
 * full again are dropped, the caller held longest is forgotten (its budget starts afresh: the limit
 * errs open for it rather than refusing callers it has never seen).
 */
export class MemoryRateLimitStore implements RateLimitStore {
  /** Always `'memory'`. */
  readonly kind = 'memory';
  readonly #scopes = new Map<string, Map<Caller, number>>();
  readonly #now: () => number;
  readonly #max: number;
  #takes = 0;
  #lastForcedSweep = -Infinity;
  #size = 0;

  constructor(options: { now?: () => number; maxCallers?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#max = options.maxCallers ?? 100_000;
  }

  /** Callers held, in every scope (those whose budget is not full). */
  get size(): number {
    return this.#size;
  }

  /** One GCRA step on this process's clock; synchronous, never throws. */
  take(scope: string, caller: Caller, rate: Rate): RateDecision {
    const now = this.#now();
    if (++this.#takes % SWEEP_EVERY === 0) this.#sweep(now);
    let callers = this.#scopes.get(scope);
    if (!callers) this.#scopes.set(scope, (callers = new Map()));
    const tat = callers.get(caller);
    if (tat === undefined && this.#size >= this.#max) {
      this.#makeRoom(now, callers);
      // The sweep drops scopes left empty, this one included.
      this.#scopes.set(scope, callers);
    }
    const step = gcra(tat, rate, now);
    if (tat === undefined) this.#size++;
    callers.set(caller, step.tat);
    return step.decision;
  }

  #makeRoom(now: number, scope: Map<Caller, number>): void {
    if (this.#takes - this.#lastForcedSweep >= FORCED_SWEEP_EVERY) {
      this.#lastForcedSweep = this.#takes;
      this.#sweep(now);
      if (this.#size < this.#max) return;
    }
    let from = scope;
    if (from.size === 0)
      for (const callers of this.#scopes.values()) if (callers.size > 0) from = callers;
    const oldest = from.keys().next();
    if (oldest.done) return;
    from.delete(oldest.value);
    this.#size--;
  }

  #sweep(now: number): void {
    for (const [scope, callers] of this.#scopes) {
      for (const [caller, tat] of callers) {
        if (tat <= now) {
          callers.delete(caller);
          this.#size--;
        }
      }
      if (callers.size === 0) this.#scopes.delete(scope);
    }
  }
}
