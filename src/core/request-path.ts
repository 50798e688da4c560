/**
 * The request path: route → identify → admit → mesh → runtime, with the metrics, the log line and the
 * observers of every request. Three doors lead onto it: `handle()` (a host's request), a peer call from
 * another gateway of the fleet (served by local instances only), and `ctx.call()` from a plugin.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { ErrorCodes, InvalidArgumentError } from '../errors.js';
import { ownBody } from '../shared/own-bytes.js';
import { ReplayGuard } from '../fleet/replay-guard.js';
import { peerRefusal, servePeer, type PeerReply } from '../fleet/peer-server.js';
import type { RateLimiter } from '../mesh/rate-limiter.js';
import { addressCaller } from '../mesh/rate-limit-store.js';
import {
  assertRequest,
  identify,
  pathOf,
  refuse,
  toPluginRequest,
  unavailable,
} from './admission.js';
import { stillStarting, wakeWithin } from './wake.js';
import { dispatch, type Dispatched, type MeshSettings, type RateCheck } from '../mesh/pipeline.js';
import type { Served } from '../mesh/instances.js';
import type { TaskInput } from '../loader/runtime.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { FaultInjector } from '../mesh/fault-injection.js';
import { logFailure, logRequest } from './logging.js';
import type { Observers, RequestObservation } from './observers.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { ResolvedOptions } from './options.js';
import { sandboxedForBrowsers, errorResponse, noRouteResponse } from '../shared/responses.js';
import type { RouteMatch, RouteTarget, Router } from './router.js';
import { REQUEST_TRACE } from '../shared/trace-context.js';
import type { RequestSpan, TraceDoor, Tracing } from './tracing.js';
import { Callers } from './callers.js';

export type { TraceDoor } from './tracing.js';
import type { GatewayRequest, PluginRequest, PluginResponse } from '../shared/types.js';

export type { PeerReply } from '../fleet/peer-server.js';

type RequestTask = Extract<TaskInput, { t: 'req' }>;

/** @throws {InvalidArgumentError} for a body nested too deep to be walked. */
function ownHostBody(body: object): unknown {
  try {
    return ownBody(body);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`request.body\` ${(error as Error).message.replace(/^the body is /, 'not to be ')}`,
    );
  }
}

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

/** One request on its way through a plugin's mesh: what the steps after admission share. */
interface Exchange {
  /** The plugin serving it (a canary's new version, or the route's). */
  plugin: Served;
  target: RouteTarget<Served>;
  request: PluginRequest;
  /** `performance.now()` when it came in. */
  started: number;
  rate: RateCheck | undefined;
  timeoutMs: number;
  observed: RequestObservation | undefined;
  span: RequestSpan | undefined;
}

export class RequestPath {
  readonly #logRequests: boolean;
  #peerRefusals = 0;
  /** Signed peer calls already served (replay protection), made at the first one. */
  #replays: ReplayGuard | undefined;
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
        return this.#admit(
          request,
          id,
          method,
          current,
          identity?.userId ?? null,
          context,
          started,
        );
      });
    }
    return this.#admit(request, id, method, match, request.userId, request.context, started);
  }

  #admit(
    request: GatewayRequest,
    id: string,
    method: string,
    match: Extract<RouteMatch<Served>, { kind: 'found' }>,
    userId: GatewayRequest['userId'],
    context: GatewayRequest['context'],
    started: number,
  ): Promise<PluginResponse> {
    const target = match.target;
    const req = toPluginRequest(request, id, method, match, userId, context);
    const rate: RateCheck | undefined = target.rate && {
      limiter: this.parts.limiter,
      rate: target.rate,
      scope: target.scope,
      caller: userId ?? callerAddress(context?.clientAddress),
    };
    const refused = refuse(target, userId, context, id);
    return this.serve(target, req, started, rate, undefined, refused).then(responseOf);
  }

  /**
   * Serves `request` on `target`'s plugin through its mesh (or answers `refused` in its place), with
   * the plugin's metrics, the request's log line and the observers.
   */
  serve(
    target: RouteTarget<Served>,
    request: PluginRequest,
    started: number,
    rate: RateCheck | undefined,
    timeoutMs = target.timeoutMs ?? this.parts.options.pluginTimeout,
    refused?: PluginResponse,
    trace?: TraceDoor,
  ): Promise<Dispatched> {
    // A swap's canary window: the new version takes its share of the route's requests.
    const plugin =
      target.canary !== undefined && Math.random() < target.canaryShare
        ? target.canary
        : target.plugin;
    if (plugin.asleep === true && refused === undefined) {
      // Started lazily: this request waits for the boot (within its timeout, which the wait uses up);
      // a boot that failed left the plugin `failed`.
      return wakeWithin(plugin, timeoutMs).then((woken) => {
        const left = Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
        const refusal = woken ? unavailable(plugin, request.id) : stillStarting(plugin, request.id);
        return this.serve(target, request, started, rate, left, refusal, trace);
      });
    }
    const span = this.parts.tracing.enabled
      ? this.parts.tracing.open(plugin, target.key, request.id, request.headers, trace)
      : undefined;
    const observed =
      this.#logRequests || this.parts.observers.active
        ? {
            requestId: request.id,
            plugin: plugin.name,
            method: request.method,
            path: request.path,
            userId: request.userId,
          }
        : undefined;
    if (observed) this.parts.observers.started(observed);
    const x: Exchange = { plugin, target, request, started, rate, timeoutMs, observed, span };
    if (refused) return Promise.resolve(this.#ended(x, { response: refused }));
    if (this.parts.faults.size !== 0) {
      const draw = this.parts.faults.draw(plugin.name);
      if (draw.abort && draw.delayMs === 0) {
        const response = this.parts.faults.aborted(plugin.name, request.id);
        return Promise.resolve(this.#ended(x, { response }));
      }
      if (draw.delayMs !== 0) {
        return this.parts.faults.hold(draw.delayMs).then(() => {
          if (!draw.abort) return this.#flagged(x);
          return this.#ended(x, { response: this.parts.faults.aborted(plugin.name, request.id) });
        });
      }
    }
    return this.#flagged(x);
  }

  /** The request's task, with the flag values evaluated for it when the plugin targets flags. */
  #flagged(x: Exchange): Promise<Dispatched> {
    const { plugin, request } = x;
    const input: RequestTask = { t: 'req', k: x.target.key, r: request };
    if (x.span) input[REQUEST_TRACE] = x.span;
    // Static flags travel with the threads, not with the request: only targeting costs a request.
    const flags = (plugin as Partial<ManagedPlugin>).flags;
    if (flags?.targeted) {
      const values = flags.evaluate(request);
      if (values instanceof Promise) {
        return values.then((f) => {
          input.f = f;
          return this.#run(x, input);
        });
      }
      input.f = values;
    }
    return this.#run(x, input);
  }

  /** Through the plugin's mesh to one of its instances; the caller remembered for its `ctx.call()`s. */
  #run(x: Exchange, input: RequestTask): Promise<Dispatched> {
    const { plugin, request, timeoutMs, rate } = x;
    const ended = (outcome: Dispatched) => this.#ended(x, outcome);
    if (!this.parts.calls(plugin)) {
      return dispatch(plugin, input, timeoutMs, request.id, rate, this.parts.mesh).then(ended);
    }
    const key = this.#callers.enter(plugin.name, request);
    const leave = () => this.#callers.leave(key);
    let dispatched: Promise<Dispatched>;
    try {
      dispatched = dispatch(plugin, input, timeoutMs, request.id, rate, this.parts.mesh);
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

  /**
   * Serves a call from another gateway of the fleet (the peer protocol): authenticated and parsed by
   * `fleet/peer-server.ts`, then run on this gateway's own instances of the plugin, never forwarded
   * again. Rate limits were counted where the request entered the fleet.
   */
  servePeer(
    body: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
    remoteAddress: string | undefined,
  ): Promise<PeerReply> {
    const started = performance.now();
    const node = this.parts.options.node;
    if (node === undefined) {
      // Not a fleet member: no peer route (the listener routes the path like any other).
      const message = 'this gateway is not in a fleet: it serves no peer calls';
      return Promise.resolve(peerRefusal(ErrorCodes.NOT_FOUND, message));
    }
    if (node.secret !== undefined) this.#replays ??= new ReplayGuard();
    return servePeer(body, headers, remoteAddress, {
      secret: node.secret,
      replays: this.#replays,
      nodeId: node.id,
      log: this.parts.log,
      refused: () => ++this.#peerRefusals,
      find: (call) => {
        const plugin = this.parts.local(call.service);
        if (this.parts.stopped() || !plugin || plugin.version !== call.version) return undefined;
        // params and query come from the path this gateway matches, never from the envelope.
        const path = call.search ? `${call.request.path}?${call.search}` : call.request.path;
        const match = this.parts.router.match(call.request.method, path);
        if (
          match.kind !== 'found' ||
          match.target.plugin !== plugin ||
          match.target.key !== call.key
        ) {
          return undefined;
        }
        return match;
      },
      serve: (match, request, timeoutMs) => {
        const req = request as PluginRequest;
        req.params = match.params;
        req.query = match.query;
        const refused = refuse(match.target, req.userId, req.context, req.id);
        const trace: TraceDoor | undefined = this.parts.tracing.enabled
          ? { door: 'peer', parent: this.parts.tracing.parentFrom(headers) }
          : undefined;
        return this.serve(match.target, req, started, undefined, timeoutMs, refused, trace);
      },
    });
  }
}

/** The rate-limit caller of an anonymous request: its client address (an IPv6 one as its /64). */
function callerAddress(address: unknown): string | number {
  if (typeof address === 'string') return addressCaller(address);
  return (address ?? 'anonymous') as string | number;
}
