/**
 * The shapes that cross the gateway: the ADR's request, response, event, info and metrics.
 * These types are shared by the host side and the plugin SDK; they import nothing outside `src/shared`.
 * @module
 */
import type { StreamSettings, VersionConnections, WebSocketSettings } from './live-types.js';

export type { StreamSettings, VersionConnections, WebSocketSettings } from './live-types.js';

/** A plugin's place in its lifecycle (ADR `PluginStatus`). */
export type PluginStatus = 'loading' | 'active' | 'inactive' | 'failed';

/**
 * The `{name}` segments of a route key or path: `'GET /users/{id}/posts/{post}'` → `'id' | 'post'`.
 */
export type RouteParamNames<Route extends string> =
  Route extends `${string}{${infer Name}}${infer Rest}` ? Name | RouteParamNames<Rest> : never;

/**
 * `req.params` of a route: each `{name}` of its key a `string` (the router only matches a request that
 * has them all), any other name `string | undefined` under `noUncheckedIndexedAccess`.
 */
export type RouteParams<Route extends string = string> = {
  [Name in RouteParamNames<Route>]: string;
} & Record<string, string>;

/**
 * A request as a plugin sees it (ADR `PluginRequest`, plus `params` and `query`). `Route`, the route key
 * its handler serves, types `params` (`definePlugin()` infers it from each key of `routes`).
 */
export interface PluginRequest<Route extends string = string> {
  /** Request id; the gateway assigns one when the caller gave none. */
  id: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string. */
  path: string;
  /**
   * Request headers as the host passed them (`{}` when none); the `./node` listener gives
   * lower-case names and joins a repeated header's values with `, `.
   */
  headers: Record<string, string>;
  /**
   * Request body as the host passed it. The `./node` listener parses JSON (`application/json`,
   * `*+json`), gives text (`text/*`, form-encoded) as a string and anything else as a `Buffer`;
   * `undefined` when empty.
   */
  body?: unknown;
  /** The caller, as the host or its `authenticate` hook decided. */
  userId?: number | string | null;
  /** Free-form context from the host (client address, roles, trace ids). */
  context?: Record<string, unknown>;
  /** Values of the `{name}` segments of the endpoint's path. */
  params: RouteParams<Route>;
  /** Parsed query string; a repeated key gives an array. */
  query: Record<string, string | string[]>;
}

/** What a host passes to `gateway.handle()`: the gateway fills in `id`, `params` and `query`. */
export interface GatewayRequest {
  /** Request id, e.g. from an `x-request-id` header; the gateway assigns one when absent. */
  id?: string;
  /** HTTP method, in any case: the gateway upper-cases it. */
  method: string;
  /** Path, optionally with a query string. */
  path: string;
  /** Request headers, handed to the plugin as they are. @default {} */
  headers?: Record<string, string>;
  /** Request body, handed to the plugin as it is (structured-cloned into its thread). */
  body?: unknown;
  /**
   * The caller, when the host knows it. With an `authenticate` hook, the hook decides instead on
   * endpoints that have `auth: required`, `auth: optional` or `roles`.
   */
  userId?: number | string | null;
  /**
   * Free-form context handed to the plugin. `clientAddress` keys the rate limits of anonymous
   * callers; `roles` (strings) is checked against an endpoint's `roles`, unless the `authenticate`
   * hook returns roles of its own.
   */
  context?: Record<string, unknown>;
}

/** What a plugin sends with `ctx.call(service, request)`: a request to one of the service's endpoints. */
export interface ServiceRequest {
  /** HTTP method of the service's endpoint. */
  method: string;
  /** Path on the service, optionally with a query string. */
  path: string;
  /** Request headers, handed to the service as they are. @default {} */
  headers?: Record<string, string>;
  /** Request body, handed to the service as it is (structured-cloned). */
  body?: unknown;
  /**
   * The caller to act for; default (and the only value allowed without `act_as_any_user` on the
   * dependency): the user of the request being served, as the host knows it; `null` for nobody.
   */
  userId?: number | string | null;
}

/** A plugin's answer (ADR `PluginResponse`). */
export interface PluginResponse {
  /** An integer 200–599; anything else is answered 500 `PGW_ERR_BAD_RESPONSE`. */
  statusCode: number;
  /**
   * Response headers, each a string or a list of strings (a list sends the header once per value:
   * `set-cookie`); anything else is 500 `PGW_ERR_BAD_RESPONSE`. Framing and hop-by-hop headers
   * (`content-length`, `transfer-encoding`, `connection`, …) and values with CR, LF or NUL are the
   * adapter's to drop.
   */
  headers?: Record<string, string | string[]>;
  /**
   * Response body. The `./node` listener sends a string as text, a `Uint8Array` as bytes and
   * anything else as JSON, with a matching `content-type` unless `headers` set one.
   */
  body?: unknown;
  /**
   * Free-form data for the host: `handle()` returns it as it is; the `./node` listener does
   * not send it.
   */
  metadata?: Record<string, unknown>;
}

/** A domain event (ADR `DomainEvent`) published with `gateway.publish()` or `ctx.publish()`. */
export interface DomainEvent {
  /** Dotted event type, e.g. `track.played`. */
  type: string;
  /** Event data; structured-cloned into each subscriber's thread. */
  payload?: unknown;
  /** The user the event concerns, if any. */
  userId?: number | string | null;
  /** Assigned by the gateway when absent. */
  id?: string;
  /** Epoch milliseconds; assigned by the gateway when absent. */
  timestamp?: number;
  /** Name of the plugin that published it, set by the gateway. */
  source?: string;
}

/** One endpoint a plugin serves, as the gateway routes it. */
export interface PluginEndpoint {
  /** Upper-case HTTP method. */
  method: string;
  /** Path pattern; `{name}` segments are parameters, e.g. `/tracks/{id}`. */
  path: string;
  /**
   * `required`: 401 `PGW_ERR_UNAUTHORIZED` without a caller; `optional`: the `authenticate`
   * hook runs, anonymous callers pass; `none`: no check. @default 'none'
   */
  auth: 'required' | 'optional' | 'none';
  /**
   * Roles of which the caller needs at least one (403 `PGW_ERR_FORBIDDEN` otherwise); a
   * non-empty list requires a caller, as `auth: required` does. @default []
   */
  roles: readonly string[];
  /**
   * Budget per caller (its `userId`, else its client address), e.g. `100/min`; beyond it,
   * 429 `PGW_ERR_RATE_LIMITED` with `Retry-After`. None by default.
   */
  rate_limit?: string;
  /** Deadline of a request to this endpoint, e.g. `2s`. @default the gateway's `pluginTimeout` */
  timeout?: string;
  /** Present when the endpoint accepts WebSocket upgrades (docs/live-connections.md). */
  websocket?: WebSocketSettings;
  /** Present when the endpoint's response is streamed (docs/live-connections.md). */
  stream?: StreamSettings;
}

/** Health of a plugin, from its own `healthCheck()`. */
export interface HealthStatus {
  /**
   * The plugin's own verdict. The gateway reports it (`info.health_check.last`, event
   * `plugin:health`, `metrics().instances[].health`) and sends no new requests to an `unhealthy`
   * instance while the plugin has another that is not; a plugin with one instance keeps serving.
   */
  status: 'healthy' | 'degraded' | 'unhealthy';
  /**
   * Free-form figures for operators; `{ error }` when `healthCheck()` threw or returned
   * something that is not a health status.
   */
  details?: Record<string, unknown>;
}

/** What the gateway knows of a loaded plugin (ADR `PluginInfo`). */
export interface PluginInfo {
  /** Instance id: `name@version#node.n`. */
  id: string;
  /** Plugin name, from the manifest; unique within a gateway. */
  name: string;
  /** Semver version, from the manifest. */
  version: string;
  /**
   * `loading` (starting, restarting after a crash, or waiting for a dependency), `active`
   * (serving), `inactive` (before `start()`, or unloading), `failed` (given up on; see `reason`).
   */
  status: PluginStatus;
  /** Why the plugin is in its status, when it is not simply active: the last failure or the wait. */
  reason?: string;
  /** The manifest's endpoints, defaults filled in. */
  endpoints: readonly PluginEndpoint[];
  /** The manifest's `metadata`, plus its `description` and `author` when it has them. */
  metadata: Record<string, string>;
  /**
   * The manifest's `health_check` (durations such as `30s`; defaults `interval: '30s'`,
   * `timeout: '5s'`), and `last`, the health the plugin last reported.
   */
  health_check: { endpoint?: string; interval: string; timeout: string; last?: HealthStatus };
  /** Absolute folder the plugin was loaded from. */
  dir: string;
  /**
   * The manifest's `runtime.type`: `worker` (JavaScript in worker threads), `process` (JavaScript in a
   * child process of its own, behind bubblewrap where available) or `wasm` (a WebAssembly module run with
   * Extism in worker threads, docs/wasm-plugins.md).
   */
  runtime: 'worker' | 'process' | 'wasm';
  /**
   * For a `process` plugin, the wall its processes run behind: `bwrap` (bubblewrap namespaces and
   * Node's permission model) or `permission-model` (Node's permission model alone: `bwrap` absent or
   * turned off by the gateway's `sandbox.bwrap`). Absent for other runtimes.
   */
  sandbox?: 'bwrap' | 'permission-model';
  /**
   * The resources the plugin runs with: its manifest's, and for an untrusted plugin at most the
   * gateway's `limits` (`memory` and `disk` in MB, `cpu` in cores, `network` in Mbit/s).
   */
  resources: { cpu: number; memory: number; disk?: number; network?: number };
  /**
   * For a `process` plugin, what the kernel enforces beside the wall above: `cpu` (`resources.cpu` as
   * a CFS quota), `memory` (`resources.memory` plus Node's own 64 MiB as a hard limit, scratch tmpfs
   * included), `pids` (at most 64 processes and threads) through a cgroup of its own (`cgroup`: the
   * `v2` or `v1` hierarchy, `none` where the host's cgroups are not writable: then the host's watch of
   * its resident memory is all there is), and `seccomp` (the deny list of docs/sandbox.md, inside
   * bwrap). `reason` says why a limit is missing. Absent for other runtimes.
   */
  kernelLimits?: {
    cgroup: 'v2' | 'v1' | 'none';
    cpu: boolean;
    memory: boolean;
    pids: boolean;
    seccomp: boolean;
    reason?: string;
  };
  /**
   * Whether the host trusts the plugin's code (`load(dir, { trusted })`; catalog plugins are untrusted
   * unless `watch.trusted`). An untrusted plugin never runs in worker threads.
   */
  trusted: boolean;
  /**
   * The plugin's feature flags as they stand: the manifest's defaults, the host's
   * `featureFlags.overrides`, then `setFlag()` changes. For a flag under a rollout rule, its value outside
   * the rollout.
   */
  flags: Readonly<Record<string, boolean>>;
  /** Rollout rules set with `setFlag(plugin, flag, { percentage, users, value })`, by flag; absent when none. */
  flagRules?: Record<string, FlagRule>;
  /**
   * `true` while an operator has disabled the plugin (`gateway.disable(name)`): it stays loaded and in
   * its status, and its endpoints answer 503 `PGW_ERR_PLUGIN_DISABLED`. Absent otherwise.
   */
  disabled?: true;
  /**
   * The versions this gateway ran of the plugin, oldest first (the last few): what `rollback()` and
   * `pin()` can go back to. Absent before the plugin is first recorded.
   */
  versions?: readonly VersionRecord[];
  /** The version `pin()` holds the plugin at (a catalog publish does not move it), if any. */
  pinned?: string;
  /**
   * Open connections per version — the one serving first, then those a swap left draining — for a
   * plugin with a `websocket` or `stream` endpoint (or while a version drains).
   */
  connections?: readonly VersionConnections[];
}

/**
 * A rollout rule for one flag: on for the listed `users` and for `percentage` % of the others (chosen by
 * a stable hash of plugin, flag and user id, so a user keeps the same answer), `value` for everyone
 * else and for anonymous requests.
 */
export interface FlagRule {
  /** The value outside the rollout (anonymous requests included). @default false */
  value?: boolean;
  /** Share of users, 0..100 (decimals allowed), who get `true`. @default 0 */
  percentage?: number;
  /** User ids (`request.userId`) who get `true`. */
  users?: readonly (string | number)[];
}

/** One version of a plugin in its history (`PluginInfo.versions`). */
export interface VersionRecord {
  /** Semver version, from its manifest. */
  version: string;
  /** `sha256-<hex>` of its folder, as recorded at load (the catalog entry's hash for the same files). */
  hash: string;
  /** Absolute folder it was loaded from: a rollback restarts it from there, once the hash is checked. */
  dir: string;
  /**
   * Whether its code was trusted, as where it came from said (`load`/`swap` options, `trustLoaded`,
   * `watch.trusted`); a rollback to it runs it with that trust, whatever version serves meanwhile.
   */
  trusted: boolean;
  /** When it was loaded (ISO 8601). */
  at: string;
  /**
   * `serving` (the version routed to now), `replaced` (served, then a newer version took over),
   * `rolled-back` (served, then gave way to an earlier version after failing), `failed` (never took
   * traffic: it did not load, start or pass its health check, or lost its canary).
   */
  outcome: 'serving' | 'replaced' | 'rolled-back' | 'failed';
  /** Why it ended as it did, for `failed` and `rolled-back`. */
  reason?: string;
}

/** Per-plugin figures (ADR `PluginMetrics`, plus latency percentiles). */
export interface PluginMetrics {
  /** Requests routed to the plugin, including those it could not serve. */
  request_count: number;
  /** Requests answered with a 5xx. */
  error_count: number;
  /** Mean response time, ms. */
  response_time_ms: number;
  /** Event-loop utilisation of the plugin's live threads, 0–100 (mean over threads). */
  cpu_usage_percent: number;
  /** Heap used by the plugin's live threads, MB. */
  memory_usage_mb: number;
  /**
   * Requests in flight now, plus open WebSockets and streamed responses (those of versions still
   * draining after a swap included).
   */
  active_connections: number;
  /**
   * Open WebSockets and streamed responses by version: the one serving, and those a swap left
   * draining. Present for plugins with a `websocket` or `stream` endpoint, or while a version drains.
   */
  connections_by_version?: Record<string, number>;
  /** Latency percentiles, ms. */
  latency_ms: { p50: number; p95: number; p99: number };
  /** Live worker threads. */
  threads: number;
  /** Worker crashes since load. */
  crashes: number;
  /** Events delivered to the plugin. */
  event_count: number;
  /** Messages and results from the plugin's threads that the host refused as malformed or not permitted. */
  protocol_violations: number;
  /**
   * Each local instance: its circuit breaker (the worst of them when kept per endpoint, each in
   * `breakers` by endpoint key), the requests in flight on it and its health — the last active check,
   * `unhealthy` while its breakers are all open.
   */
  instances: {
    id: string;
    breaker: 'closed' | 'open' | 'half-open';
    outstanding: number;
    health?: 'healthy' | 'degraded' | 'unhealthy';
    breakers?: Record<string, 'closed' | 'open' | 'half-open'>;
  }[];
}
