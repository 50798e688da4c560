/**
 * `RedisRateLimitStore`: one budget shared by every gateway that uses the same Redis. GCRA runs in Redis
 * as one Lua script per request, with Redis's clock, so that gateways with skewed clocks agree.
 *
 * Why not rate-limiter-flexible: its Redis limiter counts points in fixed windows that reset every
 * duration, which lets up to twice the rate through at a window boundary; the gateway promises a smooth
 * limit.
 * @module
 */
import { RateLimitStoreUnavailableError } from '../errors.js';
import type { Rate } from '../shared/duration.js';
import type { RateDecision } from './gcra.js';
import type { Caller, RateLimitStore } from './rate-limit-store.js';

/** The part of an ioredis client the store uses. */
export interface RedisScriptClient {
  /** ioredis connection status; anything but `'ready'` means Redis is not reachable now. */
  readonly status: string;
  /** `EVALSHA`: runs a loaded script by its SHA-1. */
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /**
   * `EVAL`: runs a script from its text, when Redis answers `NOSCRIPT` (it lost the loaded one).
   */
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** `SCRIPT LOAD`: loads a script and answers its SHA-1. */
  script(subcommand: 'LOAD', script: string): Promise<unknown>;
}

/** Options of {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** An ioredis client (the host owns it and closes it). */
  client: RedisScriptClient;
  /** Prefix of every key. @default 'pgw:rl:' */
  prefix?: string;
}

const SCRIPT = `
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now > window then
  return {0, 0, math.ceil(nextTat - window - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], nextTat, 'PX', math.max(1, math.ceil(nextTat - now)))
return {1, math.floor((window - (nextTat - now)) / interval), 0, math.ceil(nextTat - now)}
`;

/**
 * A {@link RateLimitStore} in Redis: one budget per endpoint and caller, shared by every gateway
 * that uses the same Redis and `prefix`. GCRA runs in one Lua script per request, on Redis's clock.
 * @example
 * import { Redis } from 'ioredis';
 * const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
 * const gateway = new PluginGateway({
 *   rateLimiting: { store: new RedisRateLimitStore({ client: redis }) },
 * });
 */
export class RedisRateLimitStore implements RateLimitStore {
  /** Always `'redis'`. */
  readonly kind = 'redis';
  readonly #client: RedisScriptClient;
  readonly #prefix: string;
  #sha: string | undefined;

  constructor(options: RedisRateLimitStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'pgw:rl:';
  }

  /**
   * Runs the GCRA script on the key `<prefix><scope> <caller>`; the script is loaded once and sent
   * again when Redis has lost it. The gateway turns any failure into local limits.
   * @throws {RateLimitStoreUnavailableError} `PGW_ERR_RATE_LIMIT_STORE_UNAVAILABLE` when the
   * client's `status` is not `'ready'`; other Redis errors are passed on as they are.
   */
  async take(scope: string, caller: Caller, rate: Rate): Promise<RateDecision> {
    if (this.#client.status !== 'ready')
      throw new RateLimitStoreUnavailableError(`redis is ${this.#client.status}`);
    const key = `${this.#prefix}${scope} ${caller}`;
    const args = [key, rate.windowMs / rate.limit, rate.windowMs] as const;
    let reply: unknown;
    try {
      this.#sha ??= String(await this.#client.script('LOAD', SCRIPT));
      reply = await this.#client.evalsha(this.#sha, 1, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test(String(error))) throw error;
      reply = await this.#client.eval(SCRIPT, 1, ...args);
    }
    const [allowed, remaining, retryAfterMs, resetMs] = reply as number[];
    return {
      allowed: allowed === 1,
      remaining: remaining!,
      retryAfterMs: retryAfterMs!,
      resetMs: resetMs!,
    };
  }
}
