/**
 * `PluginGateway` options (the ADR's `GatewayConfig`): one zod schema holds the defaults; options are
 * validated once, eagerly, and frozen.
 * @module
 */
import type { EventBroker } from '../fleet/event-broker.js';
import type {
  FlagSource,
  OpenFeatureClientLike,
  OpenFeatureProviderLike,
} from '../plugins/plugin-flags.js';
import type { KeyObject } from 'node:crypto';
import { z } from '../shared/zod.js';
import { faultsOptionSchema, type FaultSpec } from '../mesh/fault-injection.js';
import type { LoadBalancer } from '../mesh/load-balancer.js';
import type { RateLimitStore } from '../mesh/rate-limit-store.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import { deepFreeze } from '../shared/deep-freeze.js';
import { knownKeysLater } from '../shared/schema-keys.js';
import {
  boundedDurationMs,
  durationMs,
  HOUR_MS,
  invalidOptions,
  positiveInt,
} from '../shared/option-validation.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { GatewayRequest } from '../shared/types.js';
import type { TracerProviderLike } from './tracing.js';
import { circuitBreakerSchema, type CircuitBreakerSettings } from './breaker-options.js';
import { nodeSchema, watchSchema } from './fleet-options.js';
import { bulkheadSchema, limitsSchema, type LimitsSettings } from './limits-options.js';
import { lazySchema } from '../shared/lazy-schema.js';
import { lazyOptionsShape, type LazyOptions } from './lazy-options.js';

export type { CircuitBreakerSettings } from './breaker-options.js';
export type { LimitsSettings } from './limits-options.js';
export type { GatewayLogger } from '../shared/logger.js';

/** Who the caller is, as the host's `authenticate` hook decides. */
export interface Identity {
  /** The caller's id; it replaces `request.userId` and reaches the plugin as `req.userId`. */
  userId: number | string;
  /**
   * Roles the caller holds, checked against an endpoint's `roles` (one in common is enough);
   * the plugin sees them as `req.context.roles`.
   */
  roles?: readonly string[];
}

export const optionsSchema = lazySchema(() =>
  z.strictObject({
    maxPlugins: positiveInt.default(1000),
    pluginTimeout: boundedDurationMs(HOUR_MS, '1h').default(5000),
    circuitBreaker: circuitBreakerSchema.prefault({}),
    rateLimiting: z
      .strictObject({
        store: z
          .union([
            z.literal('memory'),
            z.custom<RateLimitStore>(
              (v) =>
                typeof v === 'object' &&
                v !== null &&
                typeof (v as RateLimitStore).take === 'function',
              "'memory' or a RateLimitStore (e.g. new RedisRateLimitStore({ client }))",
            ),
          ])
          .default('memory'),
        timeout: durationMs.default(100),
      })
      .prefault({}),
    bulkhead: bulkheadSchema.prefault({}),
    featureFlags: z
      .strictObject({
        overrides: z.record(z.string(), z.record(z.string(), z.boolean())).default({}),
        openFeature: z
          .custom<FlagSource>(
            (v) =>
              typeof v === 'object' &&
              v !== null &&
              (typeof (v as OpenFeatureClientLike).getBooleanValue === 'function' ||
                typeof (v as OpenFeatureProviderLike).resolveBooleanEvaluation === 'function'),
            'an OpenFeature Client (OpenFeature.getClient()) or Provider',
          )
          .optional(),
      })
      .prefault({}),
    registry: z
      .custom<DiscoveryRegistry>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as DiscoveryRegistry).register === 'function',
        'a DiscoveryRegistry (e.g. new MemoryRegistry())',
      )
      .optional(),
    authenticate: z
      .custom<(req: GatewayRequest) => Identity | null | Promise<Identity | null>>(
        (v) => typeof v === 'function',
        'a function (req) => { userId, roles } | null',
      )
      .optional(),
    logger: z
      .custom<GatewayLogger | false>(
        (v) =>
          v === false ||
          (typeof v === 'object' && v !== null && typeof (v as GatewayLogger).error === 'function'),
        'a pino-compatible logger, or false',
      )
      .optional(),
    idleTimeout: durationMs.default(30_000),
    threadConcurrency: positiveInt.max(256).default(16),
    maxInFlight: positiveInt.max(1_000_000).default(4096),
    timeoutGrace: durationMs.default(100),
    restart: z
      .strictObject({
        maxCrashes: positiveInt.default(5),
        window: durationMs.default(60_000),
        backoff: durationMs.default(100),
        maxBackoff: durationMs.default(5000),
      })
      .prefault({}),
    stopTimeout: durationMs.default(5000),
    bootTimeout: durationMs.default(10_000),
    balancer: z
      .union([
        z.enum(['round-robin', 'least-outstanding', 'power-of-two']),
        z.custom<LoadBalancer>(
          (v) => typeof v === 'function',
          'a function (candidates) => instance',
        ),
      ])
      .default('least-outstanding'),
    retry: z
      .strictObject({
        attempts: z.number().int().nonnegative().max(10).default(2),
        backoff: durationMs.default(20),
      })
      .prefault({}),
    node: nodeSchema,
    watch: watchSchema,
    maxResponseBytes: positiveInt.max(2 ** 31 - 1).default(8 * 1024 * 1024),
    limits: limitsSchema,
    sandbox: z
      .strictObject({
        bwrap: z.boolean().default(true),
        requireBwrap: z.boolean().default(false),
        untrusted: z.enum(['process', 'refuse']).default('process'),
      })
      .default({ bwrap: true, requireBwrap: false, untrusted: 'process' }),
    tracing: z
      .union([
        z.boolean(),
        z.strictObject({
          tracerProvider: z.custom<TracerProviderLike>(
            (v) => typeof (v as TracerProviderLike | null)?.getTracer === 'function',
            'an OpenTelemetry TracerProvider (an object with getTracer())',
          ),
        }),
      ])
      .default(true),
    events: z
      .strictObject({
        broker: z
          .custom<EventBroker>(
            (v) =>
              typeof v === 'object' &&
              v !== null &&
              typeof (v as EventBroker).publish === 'function' &&
              typeof (v as EventBroker).consume === 'function',
            'an EventBroker (e.g. redisStreams({ redis }))',
          )
          .optional(),
      })
      .prefault({}),
    faults: faultsOptionSchema.optional(),
    ...lazyOptionsShape(),
  }),
);

/** Options accepted by `new PluginGateway(options)`. Every one has a default. */
export interface GatewayOptions extends LazyOptions {
  /** Most plugins loaded at once. @default 1000 */
  maxPlugins?: number;
  /** Deadline of a request when its endpoint sets none (`"5s"` or ms, at most 1h; every other duration option at most 24h). @default '5s' */
  pluginTimeout?: string | number;
  /**
   * Circuit breaker per plugin instance (or per instance and endpoint): counts timeouts, crashes and 5xx
   * the plugin produced; opens as `policy` says, refuses with 503 for `timeout`, then lets `halfOpenLimit`
   * probes through and closes when they all succeed. The default policy opens after `failureThreshold`
   * failures in a row — and, once the last `window` holds `minThroughput` calls, only if at least
   * `failureRate` of them failed.
   * Overridable per plugin with `load(dir, { circuitBreaker })`.
   * @default { failureThreshold: 5, timeout: '30s', halfOpenLimit: 1, policy: 'consecutive-and-rate', failureRate: 0.5, window: '10s', minThroughput: 20, scope: 'instance' }
   */
  circuitBreaker?: CircuitBreakerSettings;
  /**
   * Where endpoints' `rate_limit` budgets live: this process (`'memory'`), or a store shared by a fleet
   * (`new RedisRateLimitStore({ client })`). A shared store that does not answer within `timeout` is
   * replaced by local limits until it answers again (events `ratelimit:fallback` and `ratelimit:recovered`).
   * @default { store: 'memory', timeout: '100ms' }
   */
  rateLimiting?: { store?: 'memory' | RateLimitStore; timeout?: string | number };
  /**
   * Per plugin: requests running at once (`0`: 4 × its threads × `threadConcurrency`) and waiting beyond
   * them; past both, 503 `PGW_ERR_BULKHEAD_FULL` at once. Overridable with `load(dir, { bulkhead })`.
   * @default { maxConcurrent: 0, maxQueued: 1024 }
   */
  bulkhead?: { maxConcurrent?: number; maxQueued?: number };
  /**
   * `overrides`: flag values that win over the manifests' defaults, `{ [plugin]: { [flag]: boolean } }`.
   * `openFeature`: an OpenFeature `Client` (`OpenFeature.getClient()`) or `Provider`, asked on every request
   * of a plugin that declares flags for each flag under the key `<plugin>.<flag>`, with the gateway's own
   * value as the default and `{ targetingKey: userId, plugin, requestId, method, path }` as the context.
   */
  featureFlags?: {
    overrides?: Record<string, Record<string, boolean>>;
    openFeature?: FlagSource;
  };
  /** Discovery registry the gateway registers its plugin instances in. @default new MemoryRegistry() */
  registry?: DiscoveryRegistry;
  /** Decides who the caller is; its answer wins over `request.userId`. `null` means anonymous. */
  authenticate?: (req: GatewayRequest) => Identity | null | Promise<Identity | null>;
  /** Where gateway and plugin logs go; `false` for none. @default pino at level `PGW_LOG_LEVEL`, else `LOG_LEVEL`, else 'info' */
  logger?: GatewayLogger | false;
  /** How long a plugin's thread may sit idle before it is stopped (the plugin wakes on the next request). @default '30s' */
  idleTimeout?: string | number;
  /** Requests one plugin thread works on at once (they share its event loop). @default 16 */
  threadConcurrency?: number;
  /** Requests one plugin may have in flight or queued; beyond it the gateway answers 503. @default 4096 */
  maxInFlight?: number;
  /** After a timeout, how long a thread may take to let go of the request before it is terminated. @default '100ms' */
  timeoutGrace?: string | number;
  /** Crash policy: restart with exponential backoff, `failed` after `maxCrashes` within `window`. @default { maxCrashes: 5, window: '60s', backoff: '100ms', maxBackoff: '5s' } */
  restart?: {
    maxCrashes?: number;
    window?: string | number;
    backoff?: string | number;
    maxBackoff?: string | number;
  };
  /**
   * How long `unload()`/`stop()` take at most: in-flight requests get up to half of it, the plugin's
   * `stop()` the rest less up to 1 s kept to end its threads. A thread that has not ended by then
   * (blocked in a system call) is abandoned: logged and reported with the `plugin:abandoned` event.
   * @default '5s'
   */
  stopTimeout?: string | number;
  /**
   * How long a plugin may take in `initialize()` and `start()` on its first thread; past it, `load()` (or
   * `start()`) fails with `PGW_ERR_PLUGIN_BOOT_TIMEOUT` and the thread is ended. @default '10s'
   */
  bootTimeout?: string | number;
  /**
   * How a request picks one of a plugin's instances (`load(dir, { instances })`); instances whose
   * circuit is open are never candidates. @default 'least-outstanding'
   */
  balancer?: 'round-robin' | 'least-outstanding' | 'power-of-two' | LoadBalancer;
  /**
   * Retries of a request whose instance did not answer (its thread died or was ended under it): only
   * for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS), on another instance when there is one,
   * after a jittered `backoff` that doubles, never past the request's deadline, and never while the
   * plugin restarts after a crash. A request the plugin answered is never retried, whatever the status.
   * @default { attempts: 2, backoff: '20ms' }
   */
  retry?: { attempts?: number; backoff?: string | number };
  /**
   * Joins a fleet: `id` names this gateway in the registry (default: random), `address` is where its
   * `createRequestListener` serves (other gateways forward requests for its plugins there), and `secret`,
   * shared by the fleet, signs peer calls (docs/peer-protocol.md). A peer call carries the caller's
   * identity as the entry gateway established it, so whoever can send one can act as any user.
   * Without a secret the gateway refuses to start unless `insecure: 'private-network'` says so: then
   * unsigned peer calls are accepted from loopback and private addresses — every process on those
   * networks (a reverse proxy on the same machine included) can act as any user. `openTimeout` bounds
   * how long a peer route waits for a call's body or a stream's call frame (408, then the connection
   * closed), at most `60s`; `10s` by default.
   * @default undefined (no fleet: no peer route)
   */
  node?: {
    id: string;
    address: string;
    secret?: string;
    insecure?: 'private-network';
    openTimeout?: string | number;
  };
  /**
   * Loads every plugin version published to `env` in the registry's catalog (the newest of each name),
   * and follows publish/unpublish. Files are unpacked under `cacheDir`
   * (default `node_modules/.cache/veza-plugins` of the working folder, so that plugins resolve
   * `@veza/plugin-gateway/sdk` from the host's node_modules). A folder found in the cache is hashed again
   * before each load and unpacked again when it no longer matches.
   *
   * `trustedKeys`: Ed25519 public keys (PEM text or `KeyObject`) of the publishers trusted. With them,
   * only entries signed for `env` by one of them (`packPlugin(dir, { signingKey, env })`) load, never a
   * version older than one it ran (the version floor); others are refused with `catalog:error` and
   * what runs keeps running. Without them, entries load unverified and the gateway warns so.
   */
  watch?: {
    env: string;
    cacheDir?: string;
    /**
     * Whether the catalog's plugins are code you trust. Untrusted (the default) they never run in
     * worker threads: see `sandbox.untrusted`. @default false
     */
    trusted?: boolean;
    trustedKeys?: (string | Buffer | KeyObject)[];
    /**
     * A rolling rollout: a gateway swaps to a newly published version only once every gateway of the
     * fleet with a smaller `node.id` that runs the plugin has it active (their registry records say
     * so), in `node.id` order. A version the first gateway gives up halts the rollout. @default false
     */
    rolling?: boolean;
    /** Where the version floor is kept across restarts (JSON, mode 0600; one file per gateway). */
    floorFile?: string;
  };
  /**
   * Largest response a plugin may return, in bytes, measured as it is serialised out of the plugin's
   * thread (about the UTF-8 length of JSON for text, the byte length for a Buffer). The plugin's
   * thread refuses a larger one before the host copies it, and the host measures worker and wasm
   * replies again when they arrive: 500 `PGW_ERR_RESPONSE_TOO_LARGE`. Also the largest answer the
   * host fetches for a plugin (`ctx.fetch`).
   * @default 8388608 (8 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Ceilings the host sets per plugin instance (docs/resource-limits.md): untrusted manifests'
   * `resources` are clamped to `memory`, `cpu`, `disk` and `network`; host fetches, the wasm key/value
   * store, log lines and module checks are bounded for every plugin. Each field has its own default.
   */
  limits?: LimitsSettings;
  /**
   * The wall around `runtime.type: process` plugins. `bwrap`: run each plugin process inside bubblewrap
   * when the `bwrap` binary is on `PATH` (Linux); `false` runs it under Node's permission model alone.
   * `requireBwrap`: refuse to load a `process` plugin that would run without bubblewrap
   * (`PGW_ERR_SANDBOX_UNAVAILABLE`); without it, such a plugin loads with a warning and
   * `PluginInfo.sandbox: 'permission-model'`.
   * `untrusted`: what becomes of an untrusted plugin (`load(dir, { trusted: false })`, or loaded from a
   * catalog) whose manifest asks for `runtime.type: worker`, a runtime that is no sandbox: `'process'`
   * runs it in the process runtime instead, `'refuse'` refuses it (`PGW_ERR_UNTRUSTED_RUNTIME`).
   * `process` and `wasm` plugins run as they ask, trusted or not.
   * @default { bwrap: true, requireBwrap: false, untrusted: 'process' }
   */
  sandbox?: { bwrap?: boolean; requireBwrap?: boolean; untrusted?: 'process' | 'refuse' };
  /**
   * OpenTelemetry spans, through `@opentelemetry/api` when it is installed (an optional peer; without
   * it this does nothing). `true`: the API's global tracer provider (whatever SDK the host registered;
   * none registered, the spans are no-ops); `{ tracerProvider }`: that provider; `false`: no spans, and
   * no `ctx.trace`. See the README's "Tracing".
   * @default true
   */
  tracing?: boolean | { tracerProvider: TracerProviderLike };
  /**
   * `broker`: a shared event broker (`redisStreams({ redis })`). With one, `publish()` (and a plugin's
   * `ctx.publish()`) stores the event in the broker and every subscribed plugin of every gateway using
   * it gets the event once per plugin name, at least once; without one, events stay within this gateway.
   */
  events?: { broker?: EventBroker };
  /**
   * Fault injection for chaos tests, per plugin name (Envoy's fault filter): `delay` holds
   * `percentage` % of requests for `duration` before they enter the plugin's mesh (the request's
   * deadline starts after it), then `abort` answers `percentage` % with `status` (400–599,
   * `PGW_ERR_FAULT_INJECTED`) without reaching the plugin. Changed at run time with
   * `gateway.setFaults()`. Applies to requests from hosts, peers and `ctx.call()` alike.
   * @default undefined (no faults: nothing on the request path)
   */
  faults?: Record<string, FaultSpec>;
}

/** Options after validation: durations in ms, defaults applied, frozen. */
export type ResolvedOptions = z.output<typeof optionsSchema>;

/**
 * Validates options once and applies the defaults.
 * @throws {InvalidArgumentError} naming the option, what was expected and what was given.
 */
export function resolveOptions(options: GatewayOptions = {}): Readonly<ResolvedOptions> {
  const parsed = optionsSchema.safeParse(options, { reportInput: true });
  if (parsed.success) {
    const { logger, registry, rateLimiting, featureFlags, events, tracing } = parsed.data;
    const hostObjects = new Set<unknown>([
      logger,
      registry,
      rateLimiting.store,
      featureFlags.openFeature,
      events.broker,
    ]);
    if (typeof tracing === 'object') hostObjects.add(tracing.tracerProvider);
    return deepFreeze(parsed.data, hostObjects);
  }
  throw invalidOptions(parsed.error, '', OPTION_KEYS());
}

const OPTION_KEYS = knownKeysLater(optionsSchema);
