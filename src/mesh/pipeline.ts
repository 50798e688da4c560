/**
 * Dispatch: a request that passed admission goes through the plugin's mesh — rate limit, bulkhead, then
 * per attempt the balancer (instances whose circuit is open are never candidates), the instance's circuit
 * breaker and the deadline — to a runtime. Each outcome is judged for the breaker: timeouts, crashes and
 * 5xx the plugin produced count against the instance; 4xx and the gateway's own refusals never do.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import type { TaskInput, TaskResult } from '../loader/runtime.js';
import { REQUEST_TRACE } from '../shared/trace-context.js';
import { isTaskFailure, type TaskFailure } from '../shared/task-failure.js';
import type { EXPIRED_IN_QUEUE } from './bulkhead.js';
import { BULKHEAD_CLOSED, BULKHEAD_FULL } from './bulkhead.js';
import { Admission } from './circuit-breaker.js';
import type { RateDecision } from './gcra.js';
import { rateLimitHeaders, type RateLimiter } from './rate-limiter.js';
import type { Rate } from '../shared/duration.js';
import type { LoadBalancer } from './load-balancer.js';
import type { PluginInstance, Served } from './instances.js';
import { errorResponse, failureResponse } from '../shared/responses.js';
import type { PluginResponse } from '../shared/types.js';

/** Failures that are the gateway's doing or collateral, not the instance's: no verdict for the breaker. */
const NEUTRAL: ReadonlySet<TaskFailure['__pgw']> = new Set([
  'terminated',
  'overloaded',
  'unsendable',
]);

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

/** A request's task for a runtime. */
export type RequestTask = Extract<TaskInput, { t: 'req' }>;

/**
 * One request as the mesh sees it. The request path builds it at the door the request came in by
 * (`handle()`, a peer call, `ctx.call()`) and hands it down whole; the mesh reads it and changes only
 * the task's trace context.
 */
export interface MeshExchange {
  /** The plugin serving it (a canary's new version, or the route's). */
  plugin: Served;
  /** What its runtime runs: the request (`task.r`, whose `id` names it), its endpoint key, its flags. */
  task: RequestTask;
  /** Its time budget from the moment it enters the mesh, ms: queueing, attempts and pauses included. */
  timeoutMs: number;
  /** The endpoint's `rate_limit` for this caller; `undefined` when it has none or it was counted already. */
  rate: RateCheck | undefined;
}

/** The gateway-wide settings of the mesh. */
export interface MeshSettings {
  balancer: LoadBalancer;
  retry: { attempts: number; backoff: number };
  /** A draw in [0, 1): the retries' jitter, a swap's canary share. `Math.random` but in tests. */
  random: () => number;
  /** The clock of the request deadlines, ms. `performance.now` but in tests. */
  now: () => number;
}

/**
 * Runs `x` through its plugin's mesh. Written as promise chains rather than `async` functions: each
 * async layer measured ~1.5 µs of main-thread time per request at 64 in flight (bench/RESULTS.md).
 */
export function dispatch(x: MeshExchange, mesh: MeshSettings): Promise<Dispatched>;
/**
 * {@link dispatch}, its outcome handed on as `finish` makes it in the step that ends the request (the
 * request path's metrics and answer): one promise step fewer than a `.then(finish)` after it.
 */
export function dispatch<T>(
  x: MeshExchange,
  mesh: MeshSettings,
  finish: (outcome: Dispatched) => T,
): Promise<T>;
export function dispatch(
  x: MeshExchange,
  mesh: MeshSettings,
  finish: (outcome: Dispatched) => unknown = asIs,
): Promise<unknown> {
  const limit = x.rate;
  if (limit) {
    const taken = limit.limiter.take(limit.scope, limit.caller, limit.rate);
    if (taken instanceof Promise) {
      return taken.then((decision) =>
        decision.allowed
          ? admit(x, mesh, finish)
          : finish({ response: rateLimited(limit, decision, x.task.r.id) }),
      );
    }
    if (!taken.allowed) {
      // Finished in a promise step, as every other answer: a throwing observer rejects, never throws.
      return Promise.resolve({ response: rateLimited(limit, taken, x.task.r.id) }).then(finish);
    }
  }
  return admit(x, mesh, finish);
}

const asIs = (outcome: Dispatched): Dispatched => outcome;

function rateLimited(limit: RateCheck, decision: RateDecision, requestId: string): PluginResponse {
  return errorResponse(
    ErrorCodes.RATE_LIMITED,
    `rate limit of ${limit.rate.limit} per ${limit.rate.windowMs / 1000}s reached`,
    requestId,
    rateLimitHeaders(limit.rate, decision),
  );
}

/** Circuit pre-check, then the bulkhead, then the attempts. */
function admit(
  x: MeshExchange,
  mesh: MeshSettings,
  finish: (outcome: Dispatched) => unknown,
): Promise<unknown> {
  const { plugin, task } = x;
  const instances = plugin.instances;
  if (
    !(instances.length === 1
      ? instances[0]!.breakerFor(task.k).available
      : instances.some((i) => i.breakerFor(task.k).available))
  ) {
    return answerLater({ response: circuitOpen(plugin, task.k, task.r.id) }).then(finish);
  }
  const bulkhead = plugin.bulkhead;
  if (bulkhead.enter()) {
    // A place free (the common case): the attempts' last step gives it back and finishes the request,
    // one promise step where the bulkhead's own step after the attempts' was two.
    const ms = x.timeoutMs;
    const tries: Attempts = {
      n: 0,
      last: undefined,
      deadline: mesh.now() + ms,
      finish,
      place: true,
    };
    try {
      return attempt(x, mesh, tries, ms);
    } catch (error) {
      bulkhead.leave();
      throw error;
    }
  }
  return bulkhead.run(
    (ms) =>
      attempt(
        x,
        mesh,
        { n: 0, last: undefined, deadline: mesh.now() + ms, finish: asIs, place: false },
        ms,
      ) as Promise<Dispatched>,
    x.timeoutMs,
    (refusal) =>
      refusal === BULKHEAD_FULL
        ? answerLater(refused(plugin, refusal, task.r.id))
        : refused(plugin, refusal, task.r.id),
    finish,
  );
}

function refused(
  plugin: Served,
  outcome: typeof BULKHEAD_FULL | typeof BULKHEAD_CLOSED | typeof EXPIRED_IN_QUEUE,
  requestId: string,
): Dispatched {
  if (outcome === BULKHEAD_FULL) {
    return {
      response: errorResponse(
        ErrorCodes.BULKHEAD_FULL,
        `plugin "${plugin.name}" has ${plugin.bulkhead.options.maxConcurrent} requests running and ${plugin.bulkhead.options.maxQueued} waiting`,
        requestId,
      ),
    };
  }
  if (outcome === BULKHEAD_CLOSED) {
    return {
      response: errorResponse(
        ErrorCodes.PLUGIN_UNAVAILABLE,
        `plugin "${plugin.name}" was unloaded`,
        requestId,
      ),
    };
  }
  return {
    response: errorResponse(
      ErrorCodes.TIMEOUT,
      `the request waited past its deadline for plugin "${plugin.name}"`,
      requestId,
    ),
  };
}

/** Methods a request may be sent twice with: its instance never answered, so nothing was seen to happen. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** The instance did not answer: its thread died under the request or was ended, or its gateway was out of reach. */
const UNANSWERED: ReadonlySet<TaskFailure['__pgw']> = new Set([
  'crash',
  'terminated',
  'unreachable',
]);

/** Where a request's attempts stand. */
interface Attempts {
  /** Attempts made before this one. */
  n: number;
  /** The instance of the previous attempt, which the next one avoids while there is another. */
  last: PluginInstance | undefined;
  /** When its budget runs out, on `mesh.now()`'s clock. */
  deadline: number;
  /** What the last attempt's outcome is handed to (`dispatch()`'s `finish`, or as it is). */
  finish: (outcome: Dispatched) => unknown;
  /** Whether the attempts hold a place of the plugin's bulkhead (`enter()`), given back as they end. */
  place: boolean;
}

/** The attempts' outcome: their bulkhead place given back, then handed to their `finish`. */
function ended(x: MeshExchange, tries: Attempts, outcome: Dispatched): unknown {
  if (tries.place) x.plugin.bulkhead.leave();
  return tries.finish(outcome);
}

/**
 * One request on one instance after another: retried only when unanswered, idempotent and in time.
 * @param remainingMs the budget left, when the caller has just read the clock for `tries.deadline`
 */
function attempt(
  x: MeshExchange,
  mesh: MeshSettings,
  tries: Attempts,
  remainingMs?: number,
): Promise<unknown> {
  const { plugin, task } = x;
  const { n, deadline } = tries;
  const instance = choose(plugin.instances, task.k, mesh.balancer, tries.last);
  const breaker = instance?.breakerFor(task.k);
  const admission = breaker ? breaker.admit() : Admission.Refused;
  if (!instance || !breaker || admission === Admission.Refused) {
    const open = answerLater({ response: circuitOpen(plugin, task.k, task.r.id) });
    return tries.finish === asIs && !tries.place ? open : open.then((o) => ended(x, tries, o));
  }
  const hop = task[REQUEST_TRACE]?.hop(instance.id, n);
  if (hop) task.tp = hop.traceparent;
  instance.outstanding++;
  const onResult = (result: TaskResult): unknown => {
    instance.outstanding--;
    hop?.end(result);
    if (!isTaskFailure(result)) {
      const response = result as PluginResponse;
      if (response.statusCode >= 500) breaker.failure(admission);
      else breaker.success(admission);
      return ended(x, tries, { response });
    }
    if (NEUTRAL.has(result.__pgw)) breaker.release(admission);
    else breaker.failure(admission);
    // A plugin restarting after a crash (or failed) gets no retries: its restart policy decides when it serves.
    if (
      IDEMPOTENT.has(task.r.method) &&
      UNANSWERED.has(result.__pgw) &&
      n < mesh.retry.attempts &&
      plugin.status === 'active'
    ) {
      const pause = mesh.random() * mesh.retry.backoff * 2 ** n;
      if (deadline - mesh.now() > pause) {
        const next: Attempts = { ...tries, n: n + 1, last: instance };
        return new Promise<void>((resolve) => setTimeout(resolve, pause)).then(() =>
          attemptOrLeave(x, mesh, next),
        );
      }
    }
    const failed = { response: failureResponse(result, plugin.name, task.r.id), failure: result };
    return ended(x, tries, failed);
  };
  const runtime = instance.runtime;
  const ms = remainingMs ?? Math.max(0, deadline - mesh.now());
  // Settled by the runtime's own step where it has one (the worker runtime's ledger): the caller's
  // promise then resolves from the reply's handler, one promise step fewer.
  if (runtime.runThen) return runtime.runThen(task, ms, onResult);
  return runtime.run(task, ms).then(onResult, (error: unknown) => {
    // A runtime that rejects (never the ledger's): the place is given back all the same.
    instance.outstanding--;
    if (tries.place) plugin.bulkhead.leave();
    throw error;
  });
}

/** A retry's attempt; one that throws before it starts gives its bulkhead place back. */
function attemptOrLeave(x: MeshExchange, mesh: MeshSettings, tries: Attempts): Promise<unknown> {
  try {
    return attempt(x, mesh, tries);
  } catch (error) {
    if (tries.place) x.plugin.bulkhead.leave();
    throw error;
  }
}

/**
 * An instance whose breaker for `key` lets calls through, preferring one other than `avoid`, and one
 * whose health is not `unhealthy` while there is one.
 */
function choose(
  instances: readonly PluginInstance[],
  key: string,
  balancer: LoadBalancer,
  avoid: PluginInstance | undefined,
): PluginInstance | undefined {
  if (instances.length === 1) {
    return instances[0]!.breakerFor(key).available ? instances[0] : undefined;
  }
  const open = instances.filter((i) => i.breakerFor(key).available);
  const healthy = open.filter((i) => i.health?.status !== 'unhealthy');
  const usable = healthy.length > 0 ? healthy : open;
  const others = avoid ? usable.filter((i) => i !== avoid) : usable;
  const candidates = others.length > 0 ? others : usable;
  return candidates.length > 0 ? balancer(candidates) : undefined;
}

/**
 * Resolves on the next turn of the event loop. A refusal answered in a microtask lets a closed loop of
 * in-process callers (`await gateway.handle()`, no I/O between) spin without ever reaching the event
 * loop: the probe's answer from its thread is never read, and an open circuit never closes.
 */
function answerLater(value: Dispatched): Promise<Dispatched> {
  return new Promise((resolve) => setImmediate(resolve, value));
}

function circuitOpen(plugin: Served, key: string, requestId: string): PluginResponse {
  let waitMs = Infinity;
  for (const i of plugin.instances) waitMs = Math.min(waitMs, i.breakerFor(key).retryAfterMs);
  return errorResponse(
    ErrorCodes.CIRCUIT_OPEN,
    `the circuit of plugin "${plugin.name}" is open after repeated failures`,
    requestId,
    { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
  );
}
