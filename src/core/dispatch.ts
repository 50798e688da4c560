/**
 * Dispatch: a request that passed admission goes through the plugin's mesh policies — circuit breaker,
 * bulkhead, deadline — to its runtime, and the outcome is judged for the breaker: timeouts, crashes and
 * 5xx the plugin produced count against the instance; 4xx and the gateway's own refusals never do.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import type { TaskInput } from '../loader/loader.js';
import { isTaskFailure, type TaskFailure } from '../loader/protocol.js';
import { BULKHEAD_CLOSED, BULKHEAD_FULL, EXPIRED_IN_QUEUE } from '../mesh/bulkhead.js';
import { Admission } from '../mesh/circuit-breaker.js';
import type { RateDecision } from '../mesh/gcra.js';
import { rateLimitHeaders, type RateLimiter } from '../mesh/rate-limiter.js';
import type { Rate } from './duration.js';
import type { ManagedPlugin } from './managed-plugin.js';
import { errorResponse, failureResponse } from './responses.js';
import type { PluginResponse } from './types.js';

/** Failures that are the gateway's doing or collateral, not the instance's: no verdict for the breaker. */
const NEUTRAL: ReadonlySet<TaskFailure['__pgw']> = new Set(['terminated', 'overloaded']);

/** What came of a dispatched request: the response, and the plugin's own failure for the logs. */
export interface Dispatched {
  response: PluginResponse;
  failure?: TaskFailure;
}

/** The endpoint's `rate_limit` for this caller. */
export interface RateCheck {
  limiter: RateLimiter;
  rate: Rate;
  /** Endpoint and caller. */
  key: string;
}

export async function dispatch(
  plugin: ManagedPlugin,
  input: TaskInput,
  timeoutMs: number,
  requestId: string,
  limit: RateCheck | undefined,
): Promise<Dispatched> {
  if (limit) {
    const taken = limit.limiter.take(limit.key, limit.rate);
    const decision: RateDecision = taken instanceof Promise ? await taken : taken;
    if (!decision.allowed) {
      return {
        response: errorResponse(
          429,
          ErrorCodes.RATE_LIMITED,
          `rate limit of ${limit.rate.limit} per ${limit.rate.windowMs / 1000}s reached`,
          requestId,
          rateLimitHeaders(limit.rate, decision),
        ),
      };
    }
  }
  const breaker = plugin.breaker;
  const admission = breaker.admit();
  if (admission === Admission.Refused) {
    const seconds = Math.max(1, Math.ceil(breaker.retryAfterMs / 1000));
    return {
      response: errorResponse(
        503,
        ErrorCodes.CIRCUIT_OPEN,
        `the circuit of plugin "${plugin.name}" is open after repeated failures`,
        requestId,
        { 'retry-after': String(seconds) },
      ),
    };
  }
  const outcome = await plugin.bulkhead.execute((ms) => plugin.runtime.run(input, ms), timeoutMs);
  if (outcome === BULKHEAD_FULL) {
    breaker.release(admission);
    return {
      response: errorResponse(
        503,
        ErrorCodes.BULKHEAD_FULL,
        `plugin "${plugin.name}" has ${plugin.bulkhead.options.maxConcurrent} requests running and ${plugin.bulkhead.options.maxQueued} waiting`,
        requestId,
      ),
    };
  }
  if (outcome === BULKHEAD_CLOSED) {
    breaker.release(admission);
    return {
      response: errorResponse(
        503,
        ErrorCodes.PLUGIN_UNAVAILABLE,
        `plugin "${plugin.name}" was unloaded`,
        requestId,
      ),
    };
  }
  if (outcome === EXPIRED_IN_QUEUE) {
    breaker.release(admission);
    return {
      response: errorResponse(
        504,
        ErrorCodes.TIMEOUT,
        `the request waited past its deadline for plugin "${plugin.name}"`,
        requestId,
      ),
    };
  }
  if (isTaskFailure(outcome)) {
    if (NEUTRAL.has(outcome.__pgw)) breaker.release(admission);
    else breaker.failure(admission);
    return { response: failureResponse(outcome, plugin.name, requestId), failure: outcome };
  }
  const response = outcome as PluginResponse;
  if (response.statusCode >= 500) breaker.failure(admission);
  else breaker.success(admission);
  return { response };
}
