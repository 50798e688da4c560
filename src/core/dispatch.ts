/**
 * Dispatch: a request that passed admission goes through the plugin's mesh — rate limit, bulkhead, then
 * per attempt the balancer (instances whose circuit is open are never candidates), the instance's circuit
 * breaker and the deadline — to a runtime. Each outcome is judged for the breaker: timeouts, crashes and
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
import type { LoadBalancer } from '../mesh/load-balancer.js';
import { runOn, type PluginInstance, type Served } from './instances.js';
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
  /** The endpoint (plugin and route), fixed per route. */
  scope: string;
  caller: string | number;
}

/** The gateway-wide settings of the mesh. */
export interface MeshSettings {
  balancer: LoadBalancer;
  retry: { attempts: number; backoff: number };
}

export async function dispatch(
  plugin: Served,
  input: TaskInput,
  timeoutMs: number,
  requestId: string,
  limit: RateCheck | undefined,
  mesh: MeshSettings,
): Promise<Dispatched> {
  if (limit) {
    const taken = limit.limiter.take(limit.scope, limit.caller, limit.rate);
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
  const instances = plugin.instances;
  if (
    !(instances.length === 1
      ? instances[0]!.breaker.available
      : instances.some((i) => i.breaker.available))
  ) {
    return { response: circuitOpen(plugin, requestId) };
  }
  const outcome = await plugin.bulkhead.execute(
    (ms) => attempt(plugin, input, ms, requestId, mesh),
    timeoutMs,
  );
  if (outcome === BULKHEAD_FULL) {
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
    return {
      response: errorResponse(
        504,
        ErrorCodes.TIMEOUT,
        `the request waited past its deadline for plugin "${plugin.name}"`,
        requestId,
      ),
    };
  }
  return outcome;
}

/** Methods a request may be sent twice with: its instance never answered, so nothing was seen to happen. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** The instance did not answer: its thread died under the request or was ended, or its gateway was out of reach. */
const UNANSWERED: ReadonlySet<TaskFailure['__pgw']> = new Set([
  'crash',
  'terminated',
  'unreachable',
]);

/** One request on one instance after another: retried only when unanswered, idempotent and in time. */
async function attempt(
  plugin: Served,
  input: TaskInput,
  budgetMs: number,
  requestId: string,
  mesh: MeshSettings,
): Promise<Dispatched> {
  const deadline = performance.now() + budgetMs;
  const retryable = input.t === 'req' && IDEMPOTENT.has(input.r.method);
  let failed: PluginInstance | undefined;
  for (let n = 0; ; n++) {
    const instance = choose(plugin.instances, mesh.balancer, failed);
    const admission = instance ? instance.breaker.admit() : Admission.Refused;
    if (!instance || admission === Admission.Refused)
      return { response: circuitOpen(plugin, requestId) };
    const result = await runOn(instance, input, Math.max(0, deadline - performance.now()));
    if (!isTaskFailure(result)) {
      const response = result as PluginResponse;
      if (response.statusCode >= 500) instance.breaker.failure(admission);
      else instance.breaker.success(admission);
      return { response };
    }
    if (NEUTRAL.has(result.__pgw)) instance.breaker.release(admission);
    else instance.breaker.failure(admission);
    // A plugin restarting after a crash (or failed) gets no retries: its restart policy decides when it serves.
    if (
      retryable &&
      UNANSWERED.has(result.__pgw) &&
      n < mesh.retry.attempts &&
      plugin.status === 'active'
    ) {
      const pause = Math.random() * mesh.retry.backoff * 2 ** n;
      if (deadline - performance.now() > pause) {
        await new Promise((resolve) => setTimeout(resolve, pause));
        failed = instance;
        continue;
      }
    }
    return { response: failureResponse(result, plugin.name, requestId), failure: result };
  }
}

/** An instance whose breaker lets calls through, preferring one other than `avoid`. */
function choose(
  instances: readonly PluginInstance[],
  balancer: LoadBalancer,
  avoid: PluginInstance | undefined,
): PluginInstance | undefined {
  if (instances.length === 1) return instances[0]!.breaker.available ? instances[0] : undefined;
  const open = instances.filter((i) => i.breaker.available);
  const others = avoid ? open.filter((i) => i !== avoid) : open;
  const candidates = others.length > 0 ? others : open;
  return candidates.length > 0 ? balancer(candidates) : undefined;
}

function circuitOpen(plugin: Served, requestId: string): PluginResponse {
  const waitMs = Math.min(...plugin.instances.map((i) => i.breaker.retryAfterMs));
  return errorResponse(
    503,
    ErrorCodes.CIRCUIT_OPEN,
    `the circuit of plugin "${plugin.name}" is open after repeated failures`,
    requestId,
    { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
  );
}
