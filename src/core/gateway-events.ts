/**
 * The gateway's typed events.
 * @module
 */
import type { SwapFailureReason, SwapFigures } from '../errors.js';
import type { PluginLogLine } from '../plugins/plugin-logs.js';
import type { BootEvent, CrashEvent } from '../plugins/supervisor.js';
import type { FlagRule, HealthStatus, PluginInfo, PluginStatus } from '../shared/types.js';

/** Threads of a plugin instance that would not end. */
export interface AbandonedEvent {
  /** Name of the plugin. */
  plugin: string;
  /** `threadId`s of the threads left running (unreferenced, so they do not hold the event loop). */
  threadIds: number[];
  /** Why they were abandoned, e.g. `did not end within 5000 ms (blocked in a system call?)`. */
  reason: string;
}

/** A plugin instance's circuit breaker changed state. */
export interface BreakerEvent {
  /** Name of the plugin. */
  plugin: string;
  /** Id of the instance whose breaker changed (`name@version#node.n`, then `/k` with several). */
  instance: string;
  /** The endpoint (`GET /path`) when breakers are kept per endpoint (`circuitBreaker.scope`). */
  endpoint?: string;
}

/** A feature flag changed with `setFlag()`. */
export interface FlagChangedEvent {
  /** Name of the plugin. */
  plugin: string;
  /** The flag, as the manifest declares it. */
  flag: string;
  /** Its static value now (for a rule, the value outside the rollout). */
  value: boolean;
  /** Its static value before. */
  previous: boolean;
  /** The rollout rule now in force, when the change set one. */
  rule?: FlagRule;
}

/** A swap moved a plugin's traffic to another version (`plugin:swap`). */
export interface SwapEvent {
  /** Name of the plugin. */
  plugin: string;
  /** The version that served before. */
  from: string;
  /** The version that serves now. */
  to: string;
  /** `sha256-<hex>` of the new version's folder. */
  hash: string;
  /** From `swap()` being called to the previous version's threads ended, ms. */
  durationMs: number;
  /** The new version's cold start (load, boot, health check), ms. */
  startMs: number;
  /** Whether traffic moved through a canary window. */
  canary: boolean;
}

/** Traffic went back to (or stayed with) an earlier version (`plugin:rollback`). */
export interface RollbackEvent {
  /** Name of the plugin. */
  plugin: string;
  /** The version given up. */
  from: string;
  /** The version that serves now. */
  to: string;
  /**
   * `load`, `start`, `health` or `canary` (a swap gave the new version up), `crash-loop` (the version
   * routed to became `failed` and the last good one took over), or `manual` (`rollback()`).
   */
  reason: SwapFailureReason | 'manual';
  /** What went wrong, in words. */
  message: string;
  /** For `canary`: the comparison that triggered it. */
  figures?: SwapFigures;
}

/** The gateway's typed events. */
export interface GatewayEvents {
  /** A swap moved a plugin's traffic to a new version, and the previous one was drained and ended. */
  'plugin:swap': (event: SwapEvent) => void;
  /** A new version was given up, or the plugin went back to an earlier version (see `reason`). */
  'plugin:rollback': (event: RollbackEvent) => void;
  /** A plugin changed status (`previous` is undefined when it was just loaded). */
  'plugin:status': (info: PluginInfo, previous: PluginStatus | undefined) => void;
  /**
   * A thread of a plugin died on its own: the plugin restarts after a backoff, or becomes `failed`
   * after `restart.maxCrashes` crashes within `restart.window`.
   */
  'plugin:crash': (event: CrashEvent) => void;
  /**
   * A plugin wrote a log line (`ctx.log`, or its stdout/stderr), after its rate limits: the same line the
   * gateway's logger gets. For a live view (the dashboard keeps each plugin's last lines).
   */
  'plugin:log': (line: PluginLogLine) => void;
  /** A plugin was unloaded and its threads ended; `info` is its last state. */
  'plugin:unloaded': (info: PluginInfo) => void;
  /**
   * Threads of a plugin that did not end within `stopTimeout` on unload or stop (blocked in a system
   * call, which Node cannot interrupt): left running, unreferenced. The process may not be able to
   * exit until their call returns.
   */
  'plugin:abandoned': (event: AbandonedEvent) => void;
  /**
   * An instance (or one endpoint of it) failed as `circuitBreaker.policy` says: for
   * `circuitBreaker.timeout` its requests go to other instances, or are answered 503
   * `PGW_ERR_CIRCUIT_OPEN`.
   */
  'breaker:open': (event: BreakerEvent) => void;
  /**
   * An open circuit's `timeout` passed: it lets `circuitBreaker.halfOpenLimit` probe requests through.
   */
  'breaker:half-open': (event: BreakerEvent) => void;
  /** Every probe succeeded: the instance serves as usual again. */
  'breaker:close': (event: BreakerEvent) => void;
  /** The shared rate-limit store failed; limits are local until it answers again. */
  'ratelimit:fallback': (event: { store: string; reason: string }) => void;
  /** The shared rate-limit store answers again; limits are shared again. `store` is its `kind`. */
  'ratelimit:recovered': (event: { store: string }) => void;
  /** A periodic health check found the plugin in a different health than before. */
  'plugin:health': (info: PluginInfo, health: HealthStatus) => void;
  /** The registry's store (etcd, Consul) went away: changes of the fleet may be missed until it is back. */
  'registry:error': (error: Error) => void;
  /** The registry's store answers again; what changed meanwhile has been re-listed. */
  'registry:reconnected': () => void;
  /** A version published to the watched environment could not be loaded (`watch: { env }`). */
  'catalog:error': (event: { name: string; version: string; hash?: string; error: Error }) => void;
  /** `setFlag()` changed a plugin's feature flag; its threads see it from their next task. */
  'flag:changed': (event: FlagChangedEvent) => void;
  /**
   * A plugin's boot ended: at `start()` (at most `bootConcurrency` at once, the others queued), at
   * `load()` after it, on a restart, or a lazy plugin's first request (`wake: true`). `pending` counts
   * the boots still queued or under way, for a progress display.
   */
  'plugin:boot': (event: BootEvent) => void;
}
