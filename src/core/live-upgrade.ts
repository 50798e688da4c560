/**
 * The door for WebSocket upgrades: routing, origin, auth, roles, rate limit and the endpoint's
 * connection cap are decided before a connection exists (the adapter answers 401/403/429/503 on the
 * raw socket), then the accepted socket is joined to a live thread of the plugin.
 * @module
 */
import type { WebSocket } from 'ws';
import { ErrorCodes } from '../errors.js';
import { rateLimitHeaders } from '../mesh/rate-limiter.js';
import { addressCaller } from '../mesh/rate-limit-store.js';
import type { PluginInstance, Served } from '../mesh/instances.js';
import { parseDuration, parseRate } from '../shared/duration.js';
import { errorResponse } from '../shared/responses.js';
import type {
  GatewayRequest,
  PluginRequest,
  PluginResponse,
  WebSocketSettings,
} from '../shared/types.js';
import { identify, refuse, toPluginRequest } from './admission.js';
import { LiveConnection } from './live-connection.js';
import { stillStarting, wakeWithin } from './wake.js';
import { PluginTopics } from './live-topics.js';
import { leastBusy } from './live-stream.js';
import type { RequestPathParts } from './request-path.js';
import type { RequestSpan, TraceDoor, Tracing } from './tracing.js';
import type { HopTrace } from '../shared/trace-context.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { PeerDoor } from './peer-door.js';
import { PEER_PATH, PEER_SOCKET_PATH } from '../fleet/peer-protocol.js';

/** What `gateway.upgrade(request)` decided. */
export type LiveUpgrade =
  /** No plugin serves a WebSocket on this path: the host's own upgrade handlers may. */
  | { kind: 'not-found' }
  /** Refused before any connection exists: answer `response` on the socket and end it. */
  | { kind: 'refused'; response: PluginResponse }
  | {
      kind: 'accepted';
      /** Largest message the client may send (`ws`'s `maxPayload`): past it, 1009. */
      maxMessageBytes: number;
      /** Joins the upgraded socket to the plugin. */
      accept(ws: WebSocket): void;
      /** The handshake failed: gives the connection's place back. */
      cancel(): void;
    };

type Parts = Pick<
  RequestPathParts,
  'options' | 'log' | 'router' | 'limiter' | 'nextId' | 'stopped' | 'tracing'
>;

/** Origins admitted without a `websocket.origins` list: the request's own `Host`, over http or https. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  return origin === `https://${host}` || origin === `http://${host}`;
}

const header = (headers: GatewayRequest['headers'], name: string): string | undefined => {
  const v = headers?.[name];
  return Array.isArray(v) ? v[0] : v;
};

export class LiveGate {
  readonly #parts: Parts;
  /** Open (or admitted) connections per `plugin@version METHOD /path`. */
  readonly #open = new Map<string, number>();
  /**
   * Topics per plugin name, shared by its versions: during a swap's drain, a room keeps its clients on
   * the old version and the new one together (ADR 0130). Held while the plugin has a connection here.
   */
  readonly #topics = new PluginTopics();
  #next = 0;

  /** Authenticates forwarded WebSockets (`/.veza/peer/v1/ws`) on a fleet member. */
  readonly #peers: PeerDoor;

  constructor(parts: Parts, peers: PeerDoor) {
    this.#parts = parts;
    this.#peers = peers;
  }

  /**
   * Decides an upgrade request (`method` is GET; `path` may carry a query). Never rejects.
   * `socketAddress` is the TCP peer's own address, never a proxy header's: a fleet without a secret
   * admits forwarded WebSockets by it.
   */
  async upgrade(request: GatewayRequest, socketAddress?: string): Promise<LiveUpgrade> {
    const id = request.id ?? this.#parts.nextId();
    try {
      return await this.#upgrade(request, id, socketAddress);
    } catch (error) {
      this.#parts.log.error({ request_id: id, err: error }, 'websocket upgrade failed');
      return {
        kind: 'refused',
        response: errorResponse(ErrorCodes.GATEWAY_ERROR, 'the upgrade failed', id),
      };
    }
  }

  async #upgrade(
    request: GatewayRequest,
    id: string,
    socketAddress: string | undefined,
  ): Promise<LiveUpgrade> {
    const { options, log } = this.#parts;
    const refused = (response: PluginResponse): LiveUpgrade => ({ kind: 'refused', response });
    if (this.#parts.stopped()) {
      return refused(errorResponse(ErrorCodes.PLUGIN_UNAVAILABLE, 'the gateway is stopped', id));
    }
    if (options.node !== undefined) {
      const pathname = request.path.split(/[?#]/, 1)[0]!;
      if (pathname === PEER_SOCKET_PATH) return this.#fromPeer(request, id, socketAddress);
      // The rest of the peer path is no plugin's, for upgrades as for requests.
      if (pathname === PEER_PATH || pathname.startsWith(`${PEER_PATH}/`)) {
        return refused(errorResponse(ErrorCodes.NOT_FOUND, 'not a socket of the fleet', id));
      }
    }
    const match = this.#parts.router.match('GET', request.path);
    const settings = match.kind === 'found' ? match.target.endpoint.websocket : undefined;
    if (match.kind !== 'found' || settings === undefined) return { kind: 'not-found' };
    const { target } = match;
    const origin = header(request.headers, 'origin');
    if (origin !== undefined && !this.#originAdmitted(origin, settings.origins, request)) {
      return refused(
        errorResponse(
          ErrorCodes.ORIGIN_NOT_ALLOWED,
          `origin ${origin.slice(0, 200)} is not allowed on ${target.key}`,
          id,
        ),
      );
    }
    let userId = request.userId;
    let context = request.context;
    if (options.authenticate && (target.needsIdentity || target.endpoint.auth === 'optional')) {
      const identity = await identify(options.authenticate, request, id, log);
      userId = identity?.userId ?? null;
      if (identity?.roles) context = { ...context, roles: identity.roles };
    }
    const req = toPluginRequest(request, id, 'GET', match, userId, context);
    const refusal = refuse(target, req);
    if (refusal) return refused(refusal);
    const plugin = target.plugin;
    // Bounded like a request's wait: past it, 503 with retry-after, never an upgrade left undecided.
    const timeoutMs = target.timeoutMs ?? options.pluginTimeout;
    if (plugin.asleep === true && !(await wakeWithin(plugin, timeoutMs))) {
      return refused(stillStarting(plugin, id));
    }
    // A remote plugin's instances forward the connection to their gateway (peer-socket-client.ts).
    const instance = leastBusy(plugin.instances);
    // A runtime without WebSockets (`process`) was refused at load; never reached.
    if (!instance?.runtime.live?.().open) {
      const message = `no instance of plugin "${plugin.name}" can take a WebSocket of ${target.key} now`;
      return refused(errorResponse(ErrorCodes.PLUGIN_UNAVAILABLE, message, id));
    }
    const unavailable = refuse(target, req);
    if (unavailable) return refused(unavailable);
    const unfit = instance.runtime.live!().refuseOpen?.(target.key, req);
    if (unfit !== undefined) return refused(errorResponse(ErrorCodes.HEADERS_TOO_LARGE, unfit, id));
    if (target.rate) {
      const caller = userId ?? callerOf(context?.clientAddress);
      const decision = await this.#parts.limiter.take(target.scope, caller, target.rate);
      if (!decision.allowed) {
        return refused(
          errorResponse(
            ErrorCodes.RATE_LIMITED,
            `rate limit of ${target.rate.limit} per ${target.rate.windowMs / 1000}s reached`,
            id,
            rateLimitHeaders(target.rate, decision),
          ),
        );
      }
    }
    const f = await flagsFor(plugin, req);
    return this.#admit(plugin, instance, target.key, req, settings, id, { f });
  }

  /**
   * A WebSocket another gateway of the fleet forwards: authenticated as a peer call (401 and no socket
   * otherwise); origin, auth, roles and rate limit were the entry gateway's. Served here, never again
   * forwarded, within this gateway's own `max_connections`.
   */
  async #fromPeer(
    request: GatewayRequest,
    id: string,
    socketAddress: string | undefined,
  ): Promise<LiveUpgrade> {
    // Never `context.clientAddress`: behind `trustProxy` that is `x-forwarded-for`, the caller's writing.
    const admitted = this.#peers.socket(request.headers ?? {}, socketAddress, id);
    if ('refused' in admitted) return { kind: 'refused', response: admitted.refused };
    const { match, request: req, traceparent } = admitted;
    const plugin = match.target.plugin;
    const timeoutMs = match.target.timeoutMs ?? this.#parts.options.pluginTimeout;
    if (plugin.asleep === true && !(await wakeWithin(plugin, timeoutMs))) {
      return { kind: 'refused', response: stillStarting(plugin, id) };
    }
    const instance = leastBusy(plugin.instances);
    if (plugin.location !== 'local' || !instance?.runtime.live?.().open) {
      const message = `plugin "${plugin.name}" has no live instance on this gateway`;
      return {
        kind: 'refused',
        response: errorResponse(ErrorCodes.PLUGIN_UNAVAILABLE, message, id),
      };
    }
    // As for a forwarded request: the flags are the owner's, evaluated here for the envelope's caller,
    // and the connection's span continues the caller's hop (the signed envelope's `traceparent`).
    const f = await flagsFor(plugin, req);
    const { tracing } = this.#parts;
    const trace: TraceDoor | undefined = tracing.enabled
      ? { door: 'peer', parent: tracing.parentFrom(traceparent ? { traceparent } : {}) }
      : undefined;
    const websocket = match.target.endpoint.websocket!;
    return this.#admit(plugin, instance, match.target.key, req, websocket, id, { f, trace });
  }

  /** Within the endpoint's `max_connections` on this gateway: the upgrade is accepted. */
  #admit(
    plugin: Served,
    instance: PluginInstance,
    key: string,
    req: PluginRequest,
    settings: WebSocketSettings,
    id: string,
    given: Given,
  ): LiveUpgrade {
    const slot = `${plugin.name}@${plugin.version} ${key}`;
    const open = this.#open.get(slot) ?? 0;
    if (open >= settings.max_connections) {
      return {
        kind: 'refused',
        response: errorResponse(
          ErrorCodes.TOO_MANY_CONNECTIONS,
          `${key} already holds ${settings.max_connections} connections (websocket.max_connections)`,
          id,
        ),
      };
    }
    this.#open.set(slot, open + 1);
    const release = connectionRelease(this.#open, slot);
    return {
      kind: 'accepted',
      maxMessageBytes: settings.max_message_bytes,
      cancel: release,
      accept: (ws) => this.#join(ws, plugin, instance, key, req, settings, release, given),
    };
  }

  #join(
    ws: WebSocket,
    plugin: Served,
    instance: PluginInstance,
    key: string,
    request: PluginRequest,
    settings: WebSocketSettings,
    released: () => void,
    { f: flags, trace }: Given,
  ): void {
    // While tracing, the connection is a span from its open to its close; its handlers' ctx.trace is
    // the span's hop, as a request handler's.
    const { tracing } = this.#parts;
    const span = tracing.enabled
      ? tracing.open(plugin, key, request.id, request.headers, trace)
      : undefined;
    const hop = span?.hop(instance.id, 0);
    const topics = this.#topics.join(plugin.name);
    const left = () => {
      this.#topics.leave(plugin.name);
      released();
    };
    const ended = span ? spanEnd(tracing, span, hop!, plugin.name, request.id, left) : left;
    const connection = new LiveConnection(ws, {
      id: `${request.id}.${(++this.#next).toString(36)}`,
      plugin: plugin.name,
      version: plugin.version,
      path: request.path,
      userId: request.userId,
      settings,
      idleMs: parseDuration(settings.idle_timeout)!,
      rate:
        settings.message_rate_limit === undefined
          ? undefined
          : parseRate(settings.message_rate_limit),
      topics,
      log: this.#parts.log,
      ended,
    });
    const context = { ...(hop && { tp: hop.traceparent }), ...(flags && { f: flags }) };
    connection.attach(instance.runtime.live!().open!(connection, key, request, settings, context));
  }

  #originAdmitted(
    origin: string,
    origins: readonly string[] | undefined,
    request: GatewayRequest,
  ): boolean {
    if (origins === undefined) return sameOrigin(origin, header(request.headers, 'host'));
    return origins.includes('*') || origins.includes(origin);
  }
}

/**
 * Gives `slot`'s place back once. Made out here: a closure of `upgrade()` would keep the whole upgrade
 * (request, headers, match) alive for as long as the connection is open.
 */
function connectionRelease(open: Map<string, number>, slot: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (open.get(slot) ?? 1) - 1;
    if (left === 0) open.delete(slot);
    else open.set(slot, left);
  };
}

/** Ends a connection's span and hop with it, then gives its place back (made out here, as above). */
function spanEnd(
  tracing: Tracing,
  span: RequestSpan,
  hop: HopTrace,
  plugin: string,
  requestId: string,
  released: () => void,
): () => void {
  return () => {
    const switched = { statusCode: 101 };
    hop.end(switched);
    tracing.close(span, plugin, requestId, switched, undefined);
    released();
  };
}

/** What an accepted upgrade gives its connection's handlers besides the request. */
interface Given {
  /** The flag values evaluated for its caller, when the plugin's rules target callers. */
  f?: Record<string, boolean>;
  /** Where its span comes from, when not the upgrade's own headers (a forwarded one: the peer door). */
  trace?: TraceDoor;
}

/** The plugin's flag values for `req` when its rules target callers (a request handler's `ctx.flags`). */
async function flagsFor(
  plugin: Served,
  req: PluginRequest,
): Promise<Record<string, boolean> | undefined> {
  const flags = (plugin as Partial<ManagedPlugin>).flags;
  return flags?.targeted ? await flags.evaluate(req) : undefined;
}

/** The rate-limit caller of an anonymous upgrade: its client address (an IPv6 one as its /64). */
function callerOf(address: unknown): string | number {
  if (typeof address === 'string') return addressCaller(address);
  return (address ?? 'anonymous') as string | number;
}
