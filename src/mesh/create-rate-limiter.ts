/**
 * The gateway's rate limiter from its `rateLimiting` options, with the store's failures and recoveries
 * logged and reported.
 * @module
 */
import { MemoryRateLimitStore } from './rate-limit-store.js';
import { RateLimiter } from './rate-limiter.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { RateLimitStore } from './rate-limit-store.js';

export function createRateLimiter(
  options: { store: 'memory' | RateLimitStore; timeout: number },
  log: GatewayLogger,
  report: {
    fallback(event: { store: string; reason: string }): void;
    recovered(event: { store: string }): void;
  },
): RateLimiter {
  const store = options.store === 'memory' ? new MemoryRateLimitStore() : options.store;
  return new RateLimiter(store, options.timeout, {
    onFallback: (kind, reason) => {
      log.warn(
        { store: kind, reason },
        'rate-limit store unreachable: limits are local to this gateway',
      );
      report.fallback({ store: kind, reason });
    },
    onRecovered: (kind) => {
      log.warn({ store: kind }, 'rate-limit store reachable again: limits are shared');
      report.recovered({ store: kind });
    },
  });
}
