/**
 * GCRA (generic cell rate algorithm): a rate of `limit` per `windowMs` as one timestamp per key, the
 * "theoretical arrival time". A new caller may send `limit` at once; after that one request is allowed
 * every `windowMs / limit`, smoothly, with no window boundary at which twice the rate gets through.
 * @module
 */
import type { Rate } from '../shared/duration.js';

/** What a rate limiter decided for one request. */
export interface RateDecision {
  /** Whether the request may go through; if not, the gateway answers 429 `PGW_ERR_RATE_LIMITED`. */
  allowed: boolean;
  /** Requests the caller could still send at once. */
  remaining: number;
  /** When refused: ms until one request is allowed again. */
  retryAfterMs: number;
  /** Ms until the caller's full budget is back. */
  resetMs: number;
}

/** One step of GCRA: from the stored arrival time (or none) to the decision and the time to store. */
export function gcra(
  tat: number | undefined,
  rate: Rate,
  now: number,
): { decision: RateDecision; tat: number } {
  const interval = rate.windowMs / rate.limit;
  const start = tat === undefined || tat < now ? now : tat;
  const next = start + interval;
  if (next - now > rate.windowMs) {
    return {
      decision: {
        allowed: false,
        remaining: 0,
        retryAfterMs: next - rate.windowMs - now,
        resetMs: start - now,
      },
      tat: start,
    };
  }
  return {
    decision: {
      allowed: true,
      remaining: Math.floor((rate.windowMs - (next - now)) / interval),
      retryAfterMs: 0,
      resetMs: next - now,
    },
    tat: next,
  };
}
