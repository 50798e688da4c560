/**
 * The shapes that cross the gateway: the ADR's request, response, event, info and metrics.
 * These types are shared by the host side and the plugin SDK; they import nothing.
 * @module
 */

/** A plugin's place in its lifecycle (ADR `PluginStatus`). */
export type PluginStatus = 'loading' | 'active' | 'inactive' | 'failed';

/** A request as a plugin sees it (ADR `PluginRequest`, plus `params` and `query`). */
export interface PluginRequest {
  /** Request id; the gateway assigns one when the caller gave none. */
  id: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string. */
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  /** The caller, as the host or its `authenticate` hook decided. */
  userId?: number | string | null;
  /** Free-form context from the host (client address, roles, trace ids). */
  context?: Record<string, unknown>;
  /** Values of the `{name}` segments of the endpoint's path. */
  params: Record<string, string>;
  /** Parsed query string; a repeated key gives an array. */
  query: Record<string, string | string[]>;
}

/** What a host passes to `gateway.handle()`: the gateway fills in `id`, `params` and `query`. */
export interface GatewayRequest {
  id?: string;
  method: string;
  /** Path, optionally with a query string. */
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  userId?: number | string | null;
  context?: Record<string, unknown>;
}

/** What a plugin sends with `ctx.call(service, request)`: a request to one of the service's endpoints. */
export interface ServiceRequest {
  method: string;
  /** Path on the service, optionally with a query string. */
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** The caller to act for; default: the user of the request being served, if any. */
  userId?: number | string | null;
}

/** A plugin's answer (ADR `PluginResponse`). */
export interface PluginResponse {
  /** 200–599; anything else is answered 500 `PGW_ERR_BAD_RESPONSE`. */
  statusCode: number;
  /**
   * Response headers; a list sends the header once per value (`set-cookie`). Framing headers
   * (`content-length`, `transfer-encoding`, `connection`, …) are the adapter's and are dropped.
   */
  headers?: Record<string, string | string[]>;
  body?: unknown;
  metadata?: Record<string, unknown>;
}

/** A domain event (ADR `DomainEvent`) published with `gateway.publish()` or `ctx.publish()`. */
export interface DomainEvent {
  /** Dotted event type, e.g. `track.played`. */
  type: string;
  payload?: unknown;
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
  method: string;
  path: string;
  auth: 'required' | 'optional' | 'none';
  roles: readonly string[];
  rate_limit?: string;
  timeout?: string;
}

/** Health of a plugin, from its own `healthCheck()`. */
export interface HealthStatus {
  status: 'healthy' | 'degraded' | 'unhealthy';
  details?: Record<string, unknown>;
}

/** What the gateway knows of a loaded plugin (ADR `PluginInfo`). */
export interface PluginInfo {
  /** Instance id: `name@version#n`. */
  id: string;
  name: string;
  version: string;
  status: PluginStatus;
  /** Why the plugin is in its status, when it is not simply active: the last failure or the wait. */
  reason?: string;
  endpoints: readonly PluginEndpoint[];
  metadata: Record<string, string>;
  health_check: { endpoint?: string; interval: string; timeout: string; last?: HealthStatus };
  /** Absolute folder the plugin was loaded from. */
  dir: string;
  runtime: 'worker' | 'wasm';
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
  /** Requests in flight now. */
  active_connections: number;
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
  /** Each local instance: its circuit breaker and the requests in flight on it. */
  instances: { id: string; breaker: 'closed' | 'open' | 'half-open'; outstanding: number }[];
}
