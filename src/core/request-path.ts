/**
 * The request path: route → identify → admit → mesh → runtime, with the metrics, the log line and the
 * observers of every request. Three doors lead onto it: `handle()` (a host's request), a peer call from
 * another gateway of the fleet (served by local instances only), and `ctx.call()` from a plugin.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { ErrorCodes } from '../errors.js';
import type { RateLimiter } from '../mesh/rate-limiter.js';
import {
  assertRequest,
  callerAddress,
  identify,
  ownHostBody,
  pathOf,
  toPluginRequest,
  unavailable,
} from './admission.js';
import { stillStarting, wakeWithin } from './wake.js';
import {
  dispatch,
  type Dispatched,
  type MeshExchange,
  type MeshSettings,
  type RateCheck,
} from '../mesh/pipeline.js';
import type { Served } from '../mesh/instances.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { FaultInjector } from '../mesh/fault-injection.js';
import { logFailure, logRequest } from './logging.js';
import type { Observers, RequestObservation } from './observers.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { ResolvedOptions } from './options.js';
import { sandboxedForBrowsers, errorResponse, noRouteResponse } from '../shared/responses.js';
import type { RouteTarget, Router } from './router.js';
import { REQUEST_TRACE } from '../shared/trace-context.js';
import type { RequestSpan, TraceDoor, Tracing } from './tracing.js';
import { Callers } from './callers.js';
import { streamed } from './live-stream.js';
import { hostRefusal } from './admission.js';

export type { TraceDoor } from './tracing.js';
import type { GatewayRequest, PluginRequest, PluginResponse } from '../shared/types.js';

export type { PeerReply } from '../fleet/peer-server.js';

export interface RequestPathParts {
  options: Readonly<ResolvedOptions>;
  log: GatewayLogger;
  router: Router<Served>;
  limiter: RateLimiter;
  mesh: MeshSettings;
  observers: Observers;
  nextId(): string;
  stopped(): boolean;
  /** A local plugin by name (peer calls are served by local instances only). */
  local(name: string): Served | undefined;
  /** Whether `plugin` may call services (`ctx.call`): its requests' callers are then remembered. */
  calls(plugin: Served): boolean;
  tracing: Tracing;
  /** Faults injected per plugin (chaos tests); empty on a gateway that has none. */
  faults: FaultInjector;
}

const responseOf = (outcome: Dispatched): PluginResponse => outcome.response;
const asDispatched = (outcome: Dispatched): Dispatched => outcome;

/** What a door knows of a request it lets in: the start of its {@link Exchange}. */
export interface Entry {
  target: RouteTarget<Served>;
  /** The request as the plugin will see it, `params` and `query` included. */
  request: PluginRequest;
  /** `performance.now()` when it came in. */
  started: number;
  /** The endpoint's `rate_limit` for this caller, where this door counts it. */
  rate?: RateCheck;
  /** @default the endpoint's `timeout`, else `pluginTimeout` */
  timeoutMs?: number;
  /** The gateway's answer in the plugin's place (not authenticated, a role missing, not active). */
  refused?: PluginResponse;
  /** Which door, and the trace context it came with, while tracing. */
  trace?: TraceDoor;
}

/**
 * One request on the request path, built by {@link RequestPath.enter} at the door it came in by and
 * passed down whole: its mesh part to `dispatch()`, the rest to the metrics, log line and observers.
 */
export interface Exchange extends MeshExchange {
  target: RouteTarget<Served>;
  request: PluginRequest;
  started: number;
  refused: PluginResponse | undefined;
  trace: TraceDoor | undefined;
  /** What the observers were told of it when it started, when any (or the log) listens. */
  observed: RequestObservation | undefined;
  span: RequestSpan | undefined;
}

export class RequestPath {
  readonly #logRequests: boolean;
  /** `plugin \n request id` → the caller, for plugins that may `ctx.call()`. */
  readonly #callers = new Callers();
  constructor(readonly parts: RequestPathParts) {
    this.#logRequests = parts.log.isLevelEnabled?.('info') ?? true;
  }

  /** A host's request. Promise chains rather than `async` layers: see `dispatch()`. */
  handle(request: GatewayRequest): Promise<PluginResponse> {
    try {
      return this.#handle(request);
    } catch (error) {
      // A host's misuse, or a host-supplied part (a rate-limit store) throwing: a rejection, as from an async function.
      return Promise.reject(error as Error);
    }
  }

  #handle(request: GatewayRequest): Promise<PluginResponse> {
    assertRequest(request);
    const body = request.body;
    if (typeof body === 'object' && body !== null) {
      // A Buffer the host passes is often a view on Node's shared pool: the plugin gets only its bytes.
      const owned = ownHostBody(body);
      if (owned !== body) request = { ...request, body: owned };
    }
    const { options, log } = this.parts;
    const started = performance.now();
    const id = request.id ?? this.parts.nextId();
    if (this.parts.stopped()) {
      return Promise.resolve(
        errorResponse(ErrorCodes.PLUGIN_UNAVAILABLE, 'the gateway is stopped', id),
      );
    }
    const method = request.method.toUpperCase();
    const match = this.parts.router.match(method, request.path);
    if (match.kind === 'not-found') {
      const message = `no plugin serves ${method} ${pathOf(request.path)}`;
      return Promise.resolve(noRouteResponse(message, id));
    }
    if (match.kind === 'method-not-allowed') {
      const message = `${method} is not allowed on ${pathOf(request.path)}`;
      return Promise.resolve(
        errorResponse(ErrorCodes.METHOD_NOT_ALLOWED, message, id, {
          allow: match.allow.join(', '),
        }),
      );
    }
    const target = match.target;
    if (options.authenticate && (target.needsIdentity || target.endpoint.auth === 'optional')) {
      return identify(options.authenticate, request, id, log).then((identity) => {
        const context = identity?.roles
          ? { ...request.context, roles: identity.roles }
          : request.context;
        // A swap may have replaced the plugin while the host identified the caller: route again.
        const again =
          target.plugin.status === 'active' ? match : this.parts.router.match(method, request.path);
        const current = again.kind === 'found' ? again : match;
        const req = toPluginRequest(
          request,
          id,
          method,
          current,
          identity?.userId ?? null,
          context,
        );
        return this.#admit(current.target, req, started);
      });
    }
    const req = toPluginRequest(request, id, method, match, request.userId, request.context);
    return this.#admit(target, req, started);
  }

  /** A host's request, routed and identified: its rate limit and refusals, then its plugin. */
  #admit(
    target: RouteTarget<Served>,
    request: PluginRequest,
    started: number,
  ): Promise<PluginResponse> {
    const rate: RateCheck | undefined = target.rate && {
      limiter: this.parts.limiter,
      rate: target.rate,
      scope: target.scope,
      caller: request.userId ?? callerAddress(request.context?.clientAddress),
    };
    const refused = hostRefusal(target, request);
    // Answered with the response in the step that ends the request: a `.then(responseOf)` after it
    // was one promise step more on every host request.
    return this.#serve(this.enter({ target, request, started, rate, refused }), responseOf);
  }

  /** The {@link Exchange} of a request a door lets in. */
  enter(entry: Entry): Exchange {
    const { target, request } = entry;
    return {
      plugin: target.plugin,
      task: { t: 'req', k: target.key, r: request },
      timeoutMs: entry.timeoutMs ?? target.timeoutMs ?? this.parts.options.pluginTimeout,
      rate: entry.rate,
      target,
      request,
      started: entry.started,
      refused: entry.refused,
      trace: entry.trace,
      observed: undefined,
      span: undefined,
    };
  }

  /**
   * Serves `x` on its route's plugin through the plugin's mesh (or answers `x.refused` in its place),
   * with the plugin's metrics, the request's log line and the observers.
   */
  serve(x: Exchange): Promise<Dispatched> {
    return this.#serve(x, asDispatched);
  }

  /** {@link serve}, its outcome handed to the caller as `answer` makes it. */
  #serve<T>(x: Exchange, answer: (outcome: Dispatched) => T): Promise<T> {
    const { target, request } = x;
    // A swap's canary window: the new version takes its share of the route's requests.
    const plugin = (x.plugin =
      target.canary !== undefined && this.parts.mesh.random() < target.canaryShare
        ? target.canary
        : target.plugin);
    if (plugin.asleep === true && x.refused === undefined) {
      // Started lazily: this request waits for the boot (within its timeout, which the wait uses up);
      // a boot that failed left the plugin `failed`.
      return wakeWithin(plugin, x.timeoutMs).then((woken) => {
        x.timeoutMs = Math.max(1, Math.round(x.timeoutMs - (performance.now() - x.started)));
        x.refused = woken ? unavailable(plugin, request.id) : stillStarting(plugin, request.id);
        return this.#serve(x, answer);
      });
    }
    x.span = this.parts.tracing.enabled
      ? this.parts.tracing.open(plugin, target.key, request.id, request.headers, x.trace)
      : undefined;
    x.observed =
      this.#logRequests || this.parts.observers.active
        ? {
            requestId: request.id,
            plugin: plugin.name,
            method: request.method,
            path: request.path,
            userId: request.userId,
          }
        : undefined;
    if (x.observed) this.parts.observers.started(x.observed);
    if (x.refused) return Promise.resolve(answer(this.#ended(x, { response: x.refused })));
    if (this.parts.faults.size !== 0) {
      const draw = this.parts.faults.draw(plugin.name);
      if (draw.abort && draw.delayMs === 0) {
        const response = this.parts.faults.aborted(plugin.name, request.id);
        return Promise.resolve(answer(this.#ended(x, { response })));
      }
      if (draw.delayMs !== 0) {
        return this.parts.faults.hold(draw.delayMs).then(() => {
          if (!draw.abort) return this.#flagged(x, answer);
          const response = this.parts.faults.aborted(plugin.name, request.id);
          return answer(this.#ended(x, { response }));
        });
      }
    }
    return this.#flagged(x, answer);
  }

  /** The request's task, with the flag values evaluated for it when the plugin targets flags. */
  #flagged<T>(x: Exchange, answer: (outcome: Dispatched) => T): Promise<T> {
    const task = x.task;
    if (x.span) task[REQUEST_TRACE] = x.span;
    // Static flags travel with the threads, not with the request: only targeting costs a request.
    const flags = (x.plugin as Partial<ManagedPlugin>).flags;
    if (flags?.targeted) {
      const values = flags.evaluate(x.request);
      if (values instanceof Promise) {
        return values.then((f) => {
          task.f = f;
          return this.#run(x, answer);
        });
      }
      task.f = values;
    }
    return this.#run(x, answer);
  }

  /** Through the plugin's mesh to one of its instances; the caller remembered for its `ctx.call()`s. */
  #run<T>(x: Exchange, answer: (outcome: Dispatched) => T): Promise<T> {
    // A streamed response: its log line and metrics are written when the stream ends.
    if (x.target.endpoint.stream) {
      const closed = (outcome: Dispatched) => this.#ended(x, outcome);
      return streamed(x, x.target.endpoint.stream, this.parts.log, closed).then(answer);
    }
    const ended = (outcome: Dispatched) => answer(this.#ended(x, outcome));
    if (!this.parts.calls(x.plugin)) return dispatch(x, this.parts.mesh, ended);
    const key = this.#callers.enter(x.plugin.name, x.request);
    const leave = () => this.#callers.leave(key);
    let dispatched: Promise<Dispatched>;
    try {
      dispatched = dispatch(x, this.parts.mesh);
    } catch (error) {
      leave();
      throw error;
    }
    return dispatched.finally(leave).then(ended);
  }

  /**
   * The caller of request `requestId` that plugin `name` is serving now: what its `ctx.call()`s act
   * for. `undefined` when it serves no such request (a call from an event handler, `start()`, or a
   * request id the thread made up), `null` when the request is anonymous or the id is ambiguous.
   */
  callerOf(name: string, requestId: string): GatewayRequest['userId'] {
    return this.#callers.of(name, requestId);
  }

  /**
   * The trace context of request `requestId` that plugin `name` is serving now (its log lines carry
   * it; its `ctx.call()`s are children of it); `undefined` when not tracing or not serving it.
   */
  traceOf(name: string, requestId: string): RequestSpan | undefined {
    return this.parts.tracing.spanOf(name, requestId);
  }

  /** The request answered: the plugin's metrics, the log line, the observers, the span. */
  #ended(x: Exchange, outcome: Dispatched): Dispatched {
    const { plugin, started, observed, span } = x;
    const id = x.request.id;
    if (plugin.untrusted === true) outcome.response = sandboxedForBrowsers(outcome.response);
    const { response, failure } = outcome;
    if (failure) logFailure(this.parts.log, plugin.name, plugin.version, id, failure);
    const durationMs = performance.now() - started;
    plugin.metrics.record(response.statusCode, durationMs);
    if (observed) {
      const ended = { ...observed, statusCode: response.statusCode, durationMs };
      if (this.#logRequests) logRequest(this.parts.log, plugin.version, ended, span?.logTrace);
      this.parts.observers.ended(ended, failure);
    }
    if (span) this.parts.tracing.close(span, plugin.name, id, response, failure?.__pgw);
    return outcome;
  }
}
