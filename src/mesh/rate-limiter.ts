/**
 * `RateLimiter`: each endpoint's `rate_limit`, per caller, over a store. With a shared store (Redis), a
 * store that cannot answer in time is replaced by local limits until it answers again; both changes are
 * reported. Local limits keep each gateway within the rate, so a fleet of n gateways may let through up
 * to n times the rate while Redis is away: availability over exactness, by choice.
 * @module
 */
import type { Rate } from '../shared/duration.js';
import type { RateDecision } from './gcra.js';
import { MemoryRateLimitStore, type Caller, type RateLimitStore } from './rate-limit-store.js';

export interface RateLimiterHooks {
  /** The shared store failed; limits are local from now on. */
  onFallback(store: string, reason: string): void;
  /** The shared store answers again. */
  onRecovered(store: string): void;
}

export class RateLimiter {
  readonly #store: RateLimitStore;
  readonly #local: MemoryRateLimitStore;
  readonly #timeoutMs: number;
  readonly #hooks: RateLimiterHooks;
  #degraded = false;

  constructor(store: RateLimitStore, timeoutMs: number, hooks: RateLimiterHooks) {
    this.#store = store;
    this.#local = store instanceof MemoryRateLimitStore ? store : new MemoryRateLimitStore();
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  /** True while a shared store is away and limits are local. */
  get degraded(): boolean {
    return this.#degraded;
  }

  /** Takes one request from the caller's budget; synchronous with the memory store. */
  take(scope: string, caller: Caller, rate: Rate): RateDecision | Promise<RateDecision> {
    if (this.#store === this.#local) return this.#local.take(scope, caller, rate);
    return this.#takeShared(scope, caller, rate);
  }

  async #takeShared(scope: string, caller: Caller, rate: Rate): Promise<RateDecision> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const decision = await Promise.race([
        this.#store.take(scope, caller, rate),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
      if (this.#degraded) {
        this.#degraded = false;
        this.#hooks.onRecovered(this.#store.kind);
      }
      return decision;
    } catch (error) {
      if (!this.#degraded) {
        this.#degraded = true;
        this.#hooks.onFallback(
          this.#store.kind,
          error instanceof Error ? error.message : String(error),
        );
      }
      return this.#local.take(scope, caller, rate);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `Retry-After` and the IETF `RateLimit` / `RateLimit-Policy` headers (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders(rate: Rate, decision: RateDecision): Record<string, string> {
  const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return {
    'retry-after': String(retryAfter),
    'ratelimit-policy': `"endpoint";q=${rate.limit};w=${Math.round(rate.windowMs / 1000)}`,
    ratelimit: `"endpoint";r=${decision.remaining};t=${retryAfter}`,
  };
}
