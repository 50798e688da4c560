/**
 * The management API's bodies and answers as zod schemas: request bodies are parsed with them, and the
 * OpenAPI document's schemas are generated from them.
 * @module
 */
import { z } from '../shared/zod.js';

const status = z.enum(['loading', 'active', 'inactive', 'failed']);
const health = z.looseObject({
  status: z.enum(['healthy', 'degraded', 'unhealthy']),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const pluginInfo = z.looseObject({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  status,
  reason: z.string().optional(),
  endpoints: z.array(
    z.looseObject({
      method: z.string(),
      path: z.string(),
      auth: z.enum(['required', 'optional', 'none']),
      roles: z.array(z.string()),
      rate_limit: z.string().optional(),
      timeout: z.string().optional(),
    }),
  ),
  metadata: z.record(z.string(), z.string()),
  health_check: z.looseObject({
    endpoint: z.string().optional(),
    interval: z.string(),
    timeout: z.string(),
    last: health.optional(),
  }),
  dir: z.string(),
  runtime: z.enum(['worker', 'process', 'wasm']),
  sandbox: z.enum(['bwrap', 'permission-model']).optional(),
  trusted: z.boolean(),
  disabled: z.literal(true).optional(),
  connections: z
    .array(
      z.object({
        version: z.string(),
        active_connections: z.number(),
        draining_until: z.string().optional(),
      }),
    )
    .optional(),
});

const breakerState = z.enum(['closed', 'open', 'half-open']);

export const pluginMetrics = z.looseObject({
  request_count: z.number(),
  error_count: z.number(),
  response_time_ms: z.number(),
  cpu_usage_percent: z.number(),
  memory_usage_mb: z.number(),
  active_connections: z.number(),
  connections_by_version: z.record(z.string(), z.number()).optional(),
  latency_ms: z.object({ p50: z.number(), p95: z.number(), p99: z.number() }),
  threads: z.number(),
  crashes: z.number(),
  event_count: z.number(),
  protocol_violations: z.number(),
  instances: z.array(
    z.object({
      id: z.string(),
      breaker: breakerState,
      outstanding: z.number(),
      health: z.enum(['healthy', 'degraded', 'unhealthy']).optional(),
      breakers: z.record(z.string(), breakerState).optional(),
    }),
  ),
});

export const sample = z.object({
  t: z.number(),
  requests: z.number(),
  errors: z.number(),
  p50: z.number(),
  p99: z.number(),
  crashes: z.number(),
  status,
  disabled: z.boolean(),
  breakersOpen: z.number(),
});

export const history = z.object({ interval: z.number(), samples: z.array(sample) });

export const pluginDetail = z.object({ info: pluginInfo, metrics: pluginMetrics });

export const allMetrics = z.record(z.string(), pluginMetrics);

export const breakers = z.array(
  z.object({ plugin: z.string(), instance: z.string(), state: breakerState }),
);

export const healthList = z.array(
  z.object({
    plugin: z.string(),
    status,
    disabled: z.boolean(),
    health: health.optional(),
  }),
);

export const versions = z.array(
  z.object({
    plugin: z.string(),
    id: z.string(),
    version: z.string(),
    dir: z.string(),
    runtime: z.enum(['worker', 'process', 'wasm']),
  }),
);

const flagRule = z.strictObject({
  value: z.boolean().optional(),
  percentage: z.number().min(0).max(100).optional(),
  users: z
    .array(z.union([z.string().max(256), z.number()]))
    .max(10_000)
    .optional(),
});

export const flags = z.array(
  z.object({
    plugin: z.string(),
    flags: z.record(z.string(), z.boolean()),
    overrides: z.record(z.string(), z.boolean()),
    rules: z.record(z.string(), flagRule),
  }),
);

export const loggedEvent = z.object({
  t: z.number(),
  type: z.string(),
  plugin: z.string(),
  message: z.string(),
});

export const alert = z.object({
  id: z.string(),
  rule: z.string(),
  kind: z.enum(['error_rate', 'p99', 'breaker_open', 'crash_loop', 'rollback', 'plugin_failed']),
  plugin: z.string(),
  state: z.enum(['firing', 'resolved']),
  value: z.number(),
  threshold: z.number(),
  firedAt: z.number(),
  resolvedAt: z.number().optional(),
});

export const alerts = z.object({ firing: z.array(alert), recent: z.array(alert) });

export const logLine = z.object({
  t: z.number(),
  level: z.string(),
  message: z.string(),
  requestId: z.string().optional(),
});

export const overview = z.object({
  time: z.number(),
  interval: z.number(),
  plugins: z.array(
    z.object({
      info: pluginInfo,
      metrics: pluginMetrics,
      samples: z.array(sample),
      logs: z.array(logLine),
    }),
  ),
  alerts,
  events: z.array(loggedEvent),
});

export const fleetGateway = z.object({
  nodeId: z.string(),
  self: z.boolean(),
  environment: z.string().optional(),
  watch: z.string().optional(),
  updatedAt: z.string().optional(),
  plugins: z
    .array(
      z.object({ name: z.string(), version: z.string(), status, reason: z.string().optional() }),
    )
    .optional(),
  refusals: z
    .array(
      z.object({
        name: z.string(),
        version: z.string(),
        hash: z.string().optional(),
        reason: z.string(),
        at: z.string(),
      }),
    )
    .optional(),
  refused: z.string().optional(),
});

export const unloaded = z.object({ unloaded: z.string() });

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().optional() }),
});

// ---- request bodies ----

/** `POST /api/plugins`: the folder to load, absolute or relative to the first of `loadRoots`. */
export const loadBody = z.strictObject({ dir: z.string().min(1).max(4096) });

/** `rollback` (a version, or none: the previous one) and `pin` (a version). */
export const versionBody = z.strictObject({ version: z.string().min(1).max(256).optional() });

/** `flags`: one flag, to a boolean or a rollout rule. */
export const flagBody = z.strictObject({
  flag: z.string().min(1).max(128),
  value: z.union([z.boolean(), flagRule]),
});

/** The actions without arguments take an empty JSON object. */
export const emptyBody = z.strictObject({});
