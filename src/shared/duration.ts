/**
 * Parsing of the manifest's and options' small languages: durations (`"30s"`) and rates (`"100/min"`).
 * @module
 */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `"500ms"`, `"30s"`, `"2m"`, `"1h"` (or a number of ms) to milliseconds; `undefined` when malformed. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = DURATION.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** A rate limit: at most `limit` requests per `windowMs`. */
export interface Rate {
  limit: number;
  windowMs: number;
}

const RATE = /^(\d+)\s*\/\s*(sec|second|min|minute|hour)$/;
const RATE_WINDOW_MS = { sec: 1000, second: 1000, min: 60_000, minute: 60_000, hour: 3_600_000 };

/** `"100/min"` to `{ limit: 100, windowMs: 60000 }`; `undefined` when malformed or zero. */
export function parseRate(value: string): Rate | undefined {
  const m = RATE.exec(value.trim());
  if (!m) return undefined;
  const limit = Number(m[1]);
  if (limit < 1) return undefined;
  return { limit, windowMs: RATE_WINDOW_MS[m[2] as keyof typeof RATE_WINDOW_MS] };
}
