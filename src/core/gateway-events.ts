/**
 * The gateway's typed events.
 * @module
 */
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

/** The gateway's typed events. */
export interface GatewayEvents {
  /** A plugin changed status (`previous` is undefined when it was just loaded). */
  'plugin:status': (info: PluginInfo, previous: PluginStatus | undefined) => void;
  /**
   * A thread of a plugin died on its own: the plugin restarts after a backoff, or becomes `failed`
   * after `restart.maxCrashes` crashes within `restart.window`.
   */
  'plugin:crash': (event: CrashEvent) => void;
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
  'catalog:error': (event: { name: string; version: string; error: Error }) => void;
  /** `setFlag()` changed a plugin's feature flag; its threads see it from their next task. */
  'flag:changed': (event: FlagChangedEvent) => void;
  /**
   * A plugin's boot ended: at `start()` (at most `bootConcurrency` at once, the others queued), at
   * `load()` after it, on a restart, or a lazy plugin's first request (`wake: true`). `pending` counts
   * the boots still queued or under way, for a progress display.
   */
  'plugin:boot': (event: BootEvent) => void;
}
