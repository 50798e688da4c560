/**
 * `ManagedPlugin`: what the gateway holds for one loaded plugin — manifest, runtime, status, crash
 * accounting and metrics — and the `PluginInfo` / `PluginMetrics` views of it.
 * @module
 */
import type { PluginRuntime } from '../loader/runtime.js';
import { SleepableRuntime } from './sleepable-runtime.js';
import {
  createInstance,
  InstanceGroup,
  type PluginInstance,
  type Served,
} from '../mesh/instances.js';
import { BulkheadPolicy } from '../mesh/bulkhead.js';
import type { BreakerSettings } from '../mesh/circuit-breaker.js';
import { PluginMetricsRecorder } from '../mesh/metrics.js';
import type { InstanceRecord } from '../registry/registry.js';
import { CrashPolicy, type CrashPolicyOptions } from './crash-policy.js';
import { canTransition } from './status-machine.js';
import { PluginFlags, type FlagRule } from './plugin-flags.js';
import type { GatewayLogger } from '../shared/logger.js';

const SILENT_LOG = { warn() {} } as unknown as GatewayLogger;
import type { Manifest } from '../manifest/manifest.js';
import type {
  HealthStatus,
  PluginInfo,
  PluginMetrics,
  PluginStatus,
  VersionRecord,
} from '../shared/types.js';

/** A swapped-out version that serves no new connection and waits for its open ones to close. */
export interface DrainingVersion {
  readonly plugin: ManagedPlugin;
  /** When its remaining connections are closed 1012 (epoch ms). */
  readonly until: number;
}

export class ManagedPlugin implements Served {
  readonly name: string;
  readonly location = 'local';
  readonly metrics = new PluginMetricsRecorder();
  readonly crashes: CrashPolicy;
  status: PluginStatus = 'loading';
  reason: string | undefined;
  /** Pending restart after a crash. */
  restartTimer: NodeJS.Timeout | undefined;
  /** Periodic health checks while active. */
  healthTimer: NodeJS.Timeout | undefined;
  /** Seconds a caller should wait while the plugin restarts. */
  retryAfterSeconds = 1;
  lastHealth: HealthStatus | undefined;
  #disabled = false;
  /** Not started: a dependency its manifest lists is missing (the reason says which). */
  waiting = false;
  /** All instances, as one runtime (boot, drain, close, health, figures). */
  readonly runtime: InstanceGroup;
  readonly instances: readonly PluginInstance[];
  readonly bulkhead: BulkheadPolicy;
  /** Boots at `start()` (or at `load()` after it); otherwise on its first request. */
  readonly warm: boolean;
  /** `active` without having booted yet (started lazily): its first request wakes it. */
  asleep = false;
  /** The boot a first request started, which the requests arriving meanwhile wait for too. */
  waking: Promise<void> | undefined;
  /**
   * Checks the plugin's code without running it (a lazy plugin's start: `loader/code-check/`); set
   * where the plugin is made.
   */
  checkCode: () => Promise<void> = () => Promise.resolve();
  /** Set by the gateway: boots the plugin while `asleep` (see `Supervisor.wake`). */
  wake: () => Promise<void> = () => Promise.resolve();
  /** Set by the gateway: the earlier versions of this plugin that still hold connections. */
  draining: () => readonly DrainingVersion[] = () => [];
  /**
   * `sha256-<hex>` of its folder when it was loaded: checked again before every start and restart
   * (`undefined`: not checked).
   */
  contentHash: string | undefined;
  /** A lazy plugin's runtimes, which can go back to sleep (none for a warm plugin). */
  readonly #sleepable: SleepableRuntime[] = [];
  /** The plugin's version history and pin, as `info()` shows them. */
  #versions: { list: readonly VersionRecord[]; pinned: string | undefined } | undefined;
  #info: PluginInfo | undefined;

  constructor(
    readonly id: string,
    readonly manifest: Manifest,
    readonly dir: string,
    policies: {
      restart: CrashPolicyOptions;
      circuitBreaker: BreakerSettings;
      /** `maxConcurrent: 0` means four times the plugin's threads × `threadConcurrency`. */
      bulkhead: { maxConcurrent: number; maxQueued: number };
      threadConcurrency: number;
      /** Local instances, each a worker pool of its own. */
      instances: number;
      /** Boots at start rather than on its first request. */
      warm?: boolean;
    },
    createRuntime: (plugin: ManagedPlugin, instanceId: string) => PluginRuntime,
    /** Where it runs: its runtime (an untrusted worker plugin runs as `process`), and behind what. */
    readonly placement: Pick<PluginInfo, 'runtime' | 'sandbox' | 'kernelLimits' | 'trusted'> = {
      runtime: manifest.runtime.type,
      trusted: true,
    },
    /** Its feature flags: static values, rollout rules, the host's OpenFeature source. */
    readonly flags: PluginFlags = new PluginFlags(manifest.name, manifest, {}, SILENT_LOG),
  ) {
    this.name = manifest.name;
    this.warm = policies.warm ?? true;
    this.crashes = new CrashPolicy(policies.restart);
    const threads = Math.max(1, Math.ceil(manifest.resources.cpu)) * policies.instances;
    this.bulkhead = new BulkheadPolicy({
      // Four times what the threads serve at once keeps a task waiting in Piscina for each freed place (it hands
      // the next one over synchronously); fewer left threads idle between requests (-28% at 64 in flight).
      maxConcurrent: policies.bulkhead.maxConcurrent || 4 * threads * policies.threadConcurrency,
      maxQueued: policies.bulkhead.maxQueued,
    });
    this.instances = Array.from({ length: policies.instances }, (_, n) => {
      const instanceId = policies.instances === 1 ? id : `${id}/${n + 1}`;
      let runtime: PluginRuntime;
      if (this.warm) runtime = createRuntime(this, instanceId);
      else {
        const sleepable = new SleepableRuntime(() => createRuntime(this, instanceId));
        this.#sleepable.push(sleepable);
        runtime = sleepable;
      }
      return createInstance(
        instanceId,
        runtime,
        policies.circuitBreaker,
        manifest.endpoints.map((e) => `${e.method} ${e.path}`),
      );
    });
    this.runtime = new InstanceGroup(this.instances);
  }

  /** When a request or event was last handed to a lazy plugin, as an order (higher is later; 0 for a warm one). */
  get lastUsed(): number {
    let last = 0;
    for (const runtime of this.#sleepable) last = Math.max(last, runtime.lastUsed);
    return last;
  }

  /**
   * Puts a lazy plugin back to sleep (`maxAwake`): its next request wakes it; its threads end once what
   * they are running is done, within `budgetMs`.
   */
  sleep(budgetMs: number): Promise<void> {
    this.asleep = true;
    return Promise.all(this.#sleepable.map((r) => r.sleep(budgetMs))).then(() => {});
  }

  get version(): string {
    return this.manifest.version;
  }

  /** Turned off by an operator: loaded, but its endpoints answer 503 and it gets no events. */
  /** The host does not trust its code (`load(dir, { trusted: false })`, a catalog's plugins). */
  get untrusted(): boolean {
    return !this.placement.trusted;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  set disabled(value: boolean) {
    this.#disabled = value;
    this.#info = undefined;
  }

  /** Moves to `to`; returns false (and stays) when the lifecycle does not allow it. */
  transition(to: PluginStatus, reason?: string): boolean {
    if (!canTransition(this.status, to)) return false;
    this.status = to;
    this.reason = reason;
    this.#info = undefined;
    return true;
  }

  /** Open WebSockets and streamed responses of this version. */
  get openConnections(): number {
    return this.runtime.stats().connections ?? 0;
  }

  /** Whether any endpoint holds connections (WebSocket or stream). */
  get #live(): boolean {
    return this.manifest.endpoints.some((e) => e.websocket !== undefined || e.stream !== undefined);
  }

  /** Open connections per version: this one, then those draining after a swap. */
  connectionsByVersion(): NonNullable<PluginInfo['connections']> {
    return [
      { version: this.version, active_connections: this.openConnections },
      ...this.draining().map(({ plugin, until }) => ({
        version: plugin.version,
        active_connections: plugin.openConnections,
        draining_until: new Date(until).toISOString(),
      })),
    ];
  }

  info(): PluginInfo {
    const info = this.#staticInfo();
    if (!this.#live && this.draining().length === 0) return info;
    return Object.freeze({ ...info, connections: this.connectionsByVersion() });
  }

  #staticInfo(): PluginInfo {
    if (this.#info) return this.#info;
    const m = this.manifest;
    const info: PluginInfo = {
      id: this.id,
      name: m.name,
      version: m.version,
      status: this.status,
      endpoints: m.endpoints,
      metadata: {
        ...m.metadata,
        ...(m.description ? { description: m.description } : {}),
        ...(m.author ? { author: m.author } : {}),
      },
      health_check: { ...m.health_check, ...(this.lastHealth ? { last: this.lastHealth } : {}) },
      dir: this.dir,
      resources: m.resources,
      runtime: this.placement.runtime,
      trusted: this.placement.trusted,
      flags: this.flags.values,
    };
    const rules = this.flags.rules();
    if (Object.keys(rules).length > 0) info.flagRules = rules;
    if (this.placement.sandbox !== undefined) info.sandbox = this.placement.sandbox;
    if (this.placement.kernelLimits)
      info.kernelLimits = Object.freeze({ ...this.placement.kernelLimits });
    if (this.reason !== undefined) info.reason = this.reason;
    if (this.#disabled) info.disabled = true;
    if (this.#versions) info.versions = this.#versions.list;
    if (this.#versions?.pinned !== undefined) info.pinned = this.#versions.pinned;
    this.#info = Object.freeze(info);
    return this.#info;
  }

  /** The plugin's instances as the discovery registry lists them. */
  records(nodeId: string, address: string | undefined): InstanceRecord[] {
    const info = this.info();
    return this.instances.map((instance) => ({
      id: instance.id,
      service: this.name,
      version: info.version,
      nodeId,
      ...(address === undefined ? {} : { address }),
      endpoints: info.endpoints,
      status: info.status,
      metadata: info.metadata,
    }));
  }

  /**
   * Sets a flag (`gateway.setFlag()`) and hands the new static values to every instance's threads.
   * @returns the flag's static value before.
   */
  setFlag(flag: string, setting: boolean | FlagRule): boolean {
    const previous = this.flags.set(flag, setting);
    this.runtime.setFlags(this.flags.values);
    this.#info = undefined;
    return previous;
  }

  /** Shows this history (and pin) in `info()`. */
  setVersions(list: readonly VersionRecord[], pinned: string | undefined): void {
    this.#versions = { list, pinned };
    this.#info = undefined;
  }

  setHealth(health: HealthStatus): void {
    this.lastHealth = health;
    this.#info = undefined;
  }

  snapshot(): PluginMetrics {
    const r = this.metrics;
    const live = this.runtime.stats();
    const versions = this.connectionsByVersion();
    const byVersion: Record<string, number> = {};
    for (const v of versions) {
      byVersion[v.version] = (byVersion[v.version] ?? 0) + v.active_connections;
    }
    const drainingConnections = versions.slice(1).reduce((n, v) => n + v.active_connections, 0);
    return {
      request_count: r.requests,
      error_count: r.errors,
      response_time_ms: r.meanMs,
      cpu_usage_percent: live.utilization * 100,
      memory_usage_mb: live.heapUsedBytes / (1024 * 1024),
      active_connections: live.inFlight + (live.connections ?? 0) + drainingConnections,
      ...(this.#live || versions.length > 1 ? { connections_by_version: byVersion } : {}),
      latency_ms: { p50: r.percentileMs(50), p95: r.percentileMs(95), p99: r.percentileMs(99) },
      threads: live.threads,
      crashes: this.crashes.total,
      event_count: r.events,
      protocol_violations: live.violations,
      instances: this.instances.map((i) => ({
        id: i.id,
        breaker: i.breakerState,
        outstanding: i.outstanding,
        health: i.effectiveHealth,
        ...(i.endpointBreakers() ? { breakers: i.endpointBreakers() } : {}),
      })),
    };
  }
}
