/**
 * The plugin contract as plugin code sees it: `definePlugin()`, the hooks and routes a plugin defines,
 * and the `ctx` it is handed. Shared by the SDK (what authors import) and the harnesses that run plugins.
 * @module
 */
import type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
} from './types.js';
import { PluginDefinitionError } from '../errors.js';
import type { PluginTrace } from './trace-context.js';

/**
 * A logger whose lines land in the host's logs, tagged with the plugin and the request; `fields` go
 * under `plugin_fields` (they never replace the line's own `level`, `time`, `msg`, `plugin_id`, …).
 */
export interface PluginLogger {
  /**
   * Logs `msg` at level `debug` with `fields` on the line; fields that cannot be structured-cloned
   * are replaced by `{ unserializable: String(fields) }`.
   */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Logs `msg` at level `info` with `fields` on the line; fields that cannot be structured-cloned
   * are replaced by `{ unserializable: String(fields) }`.
   */
  info(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Logs `msg` at level `warn` with `fields` on the line; fields that cannot be structured-cloned
   * are replaced by `{ unserializable: String(fields) }`.
   */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Logs `msg` at level `error` with `fields` on the line; fields that cannot be structured-cloned
   * are replaced by `{ unserializable: String(fields) }`.
   */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What the gateway gives a plugin in every hook and handler. */
export interface PluginContext {
  /** The plugin's name and version, from its manifest. */
  readonly name: string;
  /** The plugin's version, from its manifest. */
  readonly version: string;
  /** Feature flags: the manifest's defaults, overridden by the host's `featureFlags.overrides`. */
  readonly flags: Readonly<Record<string, boolean>>;
  /** Settings the host passed with `gateway.load(dir, { config })`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The request being served, in a route handler or an event handler's event id. */
  readonly requestId?: string;
  /** Writes into the host's logs, tagged with the plugin and, in a handler, the request id. */
  readonly log: PluginLogger;
  /**
   * In a route handler, while the host traces with OpenTelemetry (`tracing` option, and
   * `@opentelemetry/api` installed): the trace the request runs under, its span being the gateway's hop
   * to this plugin. Pass `traceparent` on in outgoing calls' headers to continue the trace.
   * `undefined` otherwise, and in event handlers and lifecycle hooks.
   */
  readonly trace?: PluginTrace;
  /**
   * Publishes a domain event to the plugins that subscribe to it. Only types the manifest lists under
   * `permissions.events.publish` are allowed; any other throws `PGW_ERR_EVENT_NOT_PERMITTED`.
   */
  publish(event: Omit<DomainEvent, 'source'>): void;
  /**
   * Calls an endpoint of a service the manifest lists under `dependencies` (another plugin, local or on
   * another gateway of the fleet, or a service the host provides). Goes through the target's mesh
   * (breakers, bulkhead, timeout) and resolves with its response, whatever the status: 403
   * `PGW_ERR_CALL_NOT_PERMITTED` for a service the manifest does not list, 503 when none is available.
   * The caller's user (as the host knows it) is passed on; another `request.userId` needs
   * `act_as_any_user: true` on that dependency in plugin.yaml (403 otherwise), `null` drops it.
   * @example
   * const res = await ctx.call('user-profiles', { method: 'GET', path: `/profiles/${req.userId}` });
   */
  call(service: string, request: ServiceRequest): Promise<PluginResponse>;
  /**
   * Fetches `url` through the host, which makes the request itself and only to the hosts the manifest
   * lists under `permissions.network` (`host` or `host:port`). Redirects are not followed (a 3xx comes
   * back as it is), the answer is bounded by the gateway's `maxResponseBytes`, and the exchange by 30 s.
   * It is the one way a `process` plugin inside bubblewrap reaches the network. Rejects with the reason
   * for a host that is not granted, a URL that is not http(s), or a failed exchange.
   * @example
   * const res = await ctx.fetch('https://api.example.com/v1/charts', { headers: { accept: 'application/json' } });
   * const charts = res.json();
   */
  fetch(url: string, init?: PluginFetchInit): Promise<PluginFetchResponse>;
}

/** Options of `ctx.fetch(url, init)`. */
export interface PluginFetchInit {
  /** Upper-case HTTP method. @default 'GET' */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body: text, or bytes. */
  body?: string | Uint8Array;
}

/** What `ctx.fetch()` resolves with. */
export interface PluginFetchResponse {
  /** The HTTP status, 3xx included (redirects are not followed). */
  status: number;
  /** Response headers, lower-case names. */
  headers: Record<string, string>;
  /** The body's bytes. */
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json(): unknown;
}

/** What `initialize()` receives. */
export interface PluginConfig {
  /** The plugin's name, from its manifest. */
  name: string;
  /** The plugin's version, from its manifest. */
  version: string;
  /** Feature flags: the manifest's defaults, overridden by the host's `featureFlags.overrides`. */
  flags: Readonly<Record<string, boolean>>;
  /** Settings the host passed with `gateway.load(dir, { config })`; `{}` when none. */
  settings: Readonly<Record<string, unknown>>;
}

/**
 * A route handler: return the response (or nothing, for `204 No Content`). `Route` is the key it is
 * registered under, which types `req.params`.
 */
export type RouteHandler<Route extends string = string> = (
  req: PluginRequest<Route>,
  ctx: PluginContext,
) => PluginResponse | void | Promise<PluginResponse | void>;

/** `routes` of a plugin: each handler typed by its own key (`'GET /users/{name}'` → `req.params.name`). */
export type PluginRoutes<Routes extends string = string> = {
  [Route in Routes]: RouteHandler<Route>;
};

/**
 * A plugin (the ADR's plugin contract). Every hook is optional. Each worker thread of the plugin runs
 * `initialize` then `start` when it starts, and `stop` when the plugin is unloaded or the gateway stops;
 * state is per thread.
 */
export interface PluginDefinition<Routes extends string = string> {
  /**
   * Runs first in each thread as it starts. With `start`, it must finish within the gateway's
   * `bootTimeout`; a throw on the first thread fails `load()` with `PGW_ERR_PLUGIN_LOAD`.
   */
  initialize?(config: PluginConfig, ctx: PluginContext): void | Promise<void>;
  /** Runs in each thread after `initialize`, before the thread serves anything. */
  start?(ctx: PluginContext): void | Promise<void>;
  /**
   * Runs in each live thread when the plugin is unloaded or the gateway stops, within the gateway's
   * `stopTimeout`; not in a thread whose `initialize` or `start` failed.
   */
  stop?(ctx: PluginContext): void | Promise<void>;
  /**
   * Answers the health check, every `health_check.interval` of the manifest (within its `timeout`),
   * on a live thread: an idle plugin is not woken. Without it, the plugin is healthy; a throw or an
   * answer that is not a health status counts as `unhealthy`.
   */
  healthCheck?(ctx: PluginContext): HealthStatus | Promise<HealthStatus>;
  /** `"METHOD /path/{param}"` to handler; every endpoint of the manifest needs one. */
  routes?: PluginRoutes<Routes>;
  /** Receives the events the manifest subscribes to (`permissions.events.subscribe`). */
  handleEvent?(event: DomainEvent, ctx: PluginContext): void | Promise<void>;
  /**
   * `"GET /path/{param}"` to the handlers of a WebSocket endpoint (one whose manifest entry has
   * `websocket`); docs/live-connections.md.
   * @example
   * websockets: {
   *   'GET /collab/{room}': {
   *     open(ws) { ws.subscribe(ws.request.params.room); },
   *     message(ws, msg) { ws.publish(ws.request.params.room, msg); },
   *   },
   * },
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each endpoint chooses its own `data`
  websockets?: Record<string, WebSocketHandlers<any>>;
}

const kPlugin = Symbol.for('plugin-gateway.plugin');
const ROUTE_KEY = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/\S*$/;
const HOOKS = ['initialize', 'start', 'stop', 'healthCheck', 'handleEvent'] as const;

/**
 * Declares a plugin. Checks its shape at once, so a mistake fails when the gateway loads the plugin,
 * not on the first request.
 * @throws {PluginDefinitionError} `PGW_ERR_PLUGIN_DEFINITION`, naming the hook or route that is not a function, or a malformed route key.
 */
export function definePlugin<Routes extends string = never>(
  definition: PluginDefinition<Routes>,
): PluginDefinition<Routes> {
  if (typeof definition !== 'object' || definition === null) {
    throw new PluginDefinitionError('definePlugin() expects an object with hooks and routes');
  }
  for (const hook of HOOKS) {
    if (definition[hook] !== undefined && typeof definition[hook] !== 'function') {
      throw new PluginDefinitionError(
        `definePlugin(): "${hook}" must be a function, got ${typeof definition[hook]}`,
      );
    }
  }
  for (const [key, handler] of Object.entries(definition.routes ?? {})) {
    if (!ROUTE_KEY.test(key)) {
      throw new PluginDefinitionError(
        `definePlugin(): route "${key}" must look like "GET /path/{param}"`,
      );
    }
    if (typeof handler !== 'function') {
      throw new PluginDefinitionError(
        `definePlugin(): route "${key}" must be a function, got ${typeof handler}`,
      );
    }
  }
  for (const [key, handlers] of Object.entries(definition.websockets ?? {})) {
    const problem = websocketHandlersProblem(key, handlers);
    if (problem) throw new PluginDefinitionError(`definePlugin(): ${problem}`);
  }
  Object.defineProperty(definition, kPlugin, { value: true });
  return definition;
}

/** True when `value` came from {@link definePlugin} (of any copy of the SDK). */
export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return typeof value === 'object' && value !== null && kPlugin in value;
}

/** What a connection's handlers receive as a message: text frames as strings, binary as bytes. */
export type WebSocketMessage = string | Uint8Array;

/** One open WebSocket connection, in the plugin's live thread. */
export interface PluginWebSocket<Data = Record<string, unknown>> {
  /** Unique among the plugin's open connections. */
  readonly id: string;
  /**
   * The upgrade request as the gateway admitted it: `params` of the path, `query`, `headers`,
   * `userId` (from the host's `authenticate` or `getUser`), `context`.
   */
  readonly request: PluginRequest;
  /** Per-connection state, the plugin's own; starts as `{}`. */
  data: Data;
  /** `open` until `close()` is called or the connection ends, then `closing`, then `closed`. */
  readonly readyState: 'open' | 'closing' | 'closed';
  /**
   * Sends a text (string) or binary (bytes) message. Never blocks: the host holds at most the endpoint's
   * `websocket.max_buffered_bytes` for a client that does not read, and closes it 1013 past that.
   * Ignored once the connection is closing.
   */
  send(message: WebSocketMessage): void;
  /** Closes the connection: `code` 1000 or 3000–4999, `reason` at most 123 bytes. @default 1000, '' */
  close(code?: number, reason?: string): void;
  /**
   * Subscribes this connection to `topic` (any string up to 256 characters; at most 256 topics a
   * connection). Topics are the plugin's own: no other plugin can publish to them or read them.
   */
  subscribe(topic: string): void;
  /** Ends this connection's subscription to `topic` (nothing when it had none). */
  unsubscribe(topic: string): void;
  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean;
  /** The topics this connection is subscribed to. */
  readonly topics: readonly string[];
  /**
   * Sends `message` to every other connection of the plugin subscribed to `topic` (this one excluded,
   * as in Bun and uWebSockets), whichever thread or instance holds them.
   */
  publish(topic: string, message: WebSocketMessage): void;
}

/**
 * The handlers of one WebSocket endpoint (`"GET /path"` in `websockets`). Each connection's handlers run
 * one after another: `message` is not called before the previous handler (and its promise) settled.
 * A handler that throws closes its connection 1011 and the error goes to the logs.
 */
export interface WebSocketHandlers<Data = Record<string, unknown>> {
  /** The connection is open: admitted (auth, roles, rate limit, origin) and upgraded. */
  open?(ws: PluginWebSocket<Data>, ctx: PluginContext): void | Promise<void>;
  /** A message from the client (at most the endpoint's `websocket.max_message_bytes`). */
  message?(
    ws: PluginWebSocket<Data>,
    message: WebSocketMessage,
    ctx: PluginContext,
  ): void | Promise<void>;
  /** The connection ended: the client's close code, or the gateway's (1001 at unload, 1011, …). */
  close?(
    ws: PluginWebSocket<Data>,
    code: number,
    reason: string,
    ctx: PluginContext,
  ): void | Promise<void>;
}

/** `"GET /path"`: the only method a WebSocket endpoint has. */
export const WEBSOCKET_KEY = /^GET \/\S*$/;

const HANDLERS = ['open', 'message', 'close'] as const;

/** Why `handlers` is not a set of WebSocket handlers for `key`, or `undefined` when it is. */
export function websocketHandlersProblem(key: string, handlers: unknown): string | undefined {
  if (!WEBSOCKET_KEY.test(key)) return `websocket "${key}" must look like "GET /path/{param}"`;
  if (typeof handlers !== 'object' || handlers === null) {
    return `websocket "${key}" must be an object of handlers (open, message, close)`;
  }
  for (const name of HANDLERS) {
    const h = (handlers as Record<string, unknown>)[name];
    if (h !== undefined && typeof h !== 'function') {
      return `websocket "${key}".${name} must be a function, got ${typeof h}`;
    }
  }
  return undefined;
}
