/**
 * A plugin's instances: one runtime (a worker pool of its own) and one circuit breaker each. The group
 * presents them to the rest of the gateway as a single runtime — boot, drain, close, health and figures
 * cover them all — while requests pick their instance through the balancer.
 * @module
 */
import type { PluginRuntime, RuntimeStats, TaskInput } from '../loader/runtime.js';
import type { BootReport, TaskResult } from '../loader/runtime.js';
import { worstHealth } from '../shared/health.js';
import { checkInstance } from './instance-health.js';
import type { BulkheadPolicy } from './bulkhead.js';
import {
  CircuitBreakerPolicy,
  worstBreakerState,
  type BreakerSettings,
  type BreakerState,
} from './circuit-breaker.js';
import type { PluginMetricsRecorder } from './metrics.js';
import type { HealthStatus, PluginStatus } from '../shared/types.js';

/** What the router leads to and the mesh dispatches to: a local plugin, or a plugin other gateways run. */
export interface Served {
  readonly name: string;
  readonly version: string;
  readonly status: PluginStatus;
  /** Seconds a caller should wait while it is not active. */
  readonly retryAfterSeconds: number;
  /** Turned off by an operator (`gateway.disable()`): loaded, but answering 503 `PGW_ERR_PLUGIN_DISABLED`. */
  readonly disabled?: boolean;
  readonly instances: readonly PluginInstance[];
  readonly bulkhead: BulkheadPolicy;
  readonly metrics: PluginMetricsRecorder;
  /** `local`: worker pools of this gateway; `remote`: instances of other gateways of the fleet. */
  readonly location: 'local' | 'remote';
  /** Code the host does not trust: its answers are sandboxed for browsers (`sandboxedForBrowsers`). */
  readonly untrusted?: boolean;
  /** Started lazily and not booted yet: its first request waits for {@link Served.wake}. */
  readonly asleep?: boolean;
  /** Boots a plugin that is `asleep`; never rejects (a failed boot leaves it `failed`). */
  wake?(): Promise<void>;
}

/** Runs on `instance`, counting it as outstanding meanwhile. */
export function runOn(
  instance: PluginInstance,
  task: TaskInput,
  timeoutMs: number,
): Promise<TaskResult> {
  instance.outstanding++;
  return instance.runtime.run(task, timeoutMs).then((result) => {
    instance.outstanding--;
    return result;
  });
}

export class PluginInstance {
  /** Requests in flight on this instance. */
  outstanding = 0;
  /**
   * Its last active health check (`undefined` before the first). The balancer sends no new requests to
   * an `unhealthy` instance while another one is not.
   */
  health: HealthStatus | undefined;
  /** With `scope: 'endpoint'`: a breaker per endpoint key (`GET /path`), `breaker` serving any other. */
  readonly #byEndpoint: ReadonlyMap<string, CircuitBreakerPolicy> | undefined;

  constructor(
    readonly id: string,
    readonly runtime: PluginRuntime,
    readonly breaker: CircuitBreakerPolicy,
    byEndpoint?: ReadonlyMap<string, CircuitBreakerPolicy>,
  ) {
    this.#byEndpoint = byEndpoint;
  }

  /** The breaker that judges requests to endpoint `key` on this instance. */
  breakerFor(key: string | undefined): CircuitBreakerPolicy {
    if (this.#byEndpoint === undefined || key === undefined) return this.breaker;
    return this.#byEndpoint.get(key) ?? this.breaker;
  }

  /** Each breaker of the instance, with its endpoint key when kept per endpoint. */
  breakers(): [CircuitBreakerPolicy, string | undefined][] {
    if (this.#byEndpoint === undefined) return [[this.breaker, undefined]];
    return [...this.#byEndpoint].map(([key, b]) => [b, key]);
  }

  /** The state of its breakers as one: open when any is open. */
  get breakerState(): BreakerState {
    return this.#byEndpoint === undefined
      ? this.breaker.state
      : worstBreakerState([...this.#byEndpoint.values()].map((b) => b.state));
  }

  /** States of the per-endpoint breakers (`scope: 'endpoint'`), by endpoint key. */
  endpointBreakers(): Record<string, BreakerState> | undefined {
    if (this.#byEndpoint === undefined) return undefined;
    return Object.fromEntries([...this.#byEndpoint].map(([key, b]) => [key, b.state]));
  }

  /**
   * Its health as the balancer and operators see it: the active check, made `unhealthy` by a passive
   * signal — every breaker of the instance open.
   */
  get effectiveHealth(): HealthStatus['status'] {
    const breakers = this.breakers();
    if (breakers.every(([b]) => b.state === 'open')) return 'unhealthy';
    return this.health?.status ?? 'healthy';
  }
}

/** An instance with its breakers as `settings` say (per endpoint: one for each of `endpointKeys`). */
export function createInstance(
  id: string,
  runtime: PluginRuntime,
  settings: BreakerSettings,
  endpointKeys: readonly string[],
): PluginInstance {
  const byEndpoint =
    settings.scope === 'endpoint'
      ? new Map(endpointKeys.map((key) => [key, new CircuitBreakerPolicy(settings)]))
      : undefined;
  return new PluginInstance(id, runtime, new CircuitBreakerPolicy(settings), byEndpoint);
}

export class InstanceGroup implements PluginRuntime {
  constructor(readonly instances: readonly PluginInstance[]) {}

  /** Every instance checks its folder itself at boot (process runtimes). */
  get checksContentAtBoot(): boolean {
    return this.instances.every((i) => i.runtime.checksContentAtBoot === true);
  }

  /** Runs on the least busy instance (events, boot). */
  run(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
    let best = this.instances[0]!;
    for (const i of this.instances) if (i.outstanding < best.outstanding) best = i;
    return runOn(best, task, timeoutMs);
  }

  async boot(timeoutMs: number): Promise<BootReport> {
    const reports = await Promise.all(this.instances.map((i) => i.runtime.boot(timeoutMs)));
    reports.forEach((report, n) => (this.instances[n]!.health = report.health));
    return reports[0]!;
  }

  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(this.instances.map((i) => i.runtime.drain(timeoutMs)));
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all(this.instances.map((i) => i.runtime.close(timeoutMs)));
  }

  stats(): RuntimeStats {
    const all = this.instances.map((i) => i.runtime.stats());
    const threads = all.reduce((n, s) => n + s.threads, 0);
    return {
      threads,
      utilization:
        threads === 0 ? 0 : all.reduce((u, s) => u + s.utilization * s.threads, 0) / threads,
      heapUsedBytes: all.reduce((n, s) => n + s.heapUsedBytes, 0),
      inFlight: all.reduce((n, s) => n + s.inFlight, 0),
      violations: all.reduce((n, s) => n + s.violations, 0),
      connections: all.reduce((n, s) => n + (s.connections ?? 0), 0),
    };
  }

  setFlags(flags: Readonly<Record<string, boolean>>): void {
    for (const i of this.instances) i.runtime.setFlags(flags);
  }

  /**
   * Checks every instance (its `healthCheck()`, or a GET of `endpoint`), keeps each answer on its
   * instance for the balancer, and answers the worst of them — with several instances, its details
   * carry `instances`, each instance's status by id.
   */
  async checkHealth(timeoutMs: number, endpoint?: string): Promise<HealthStatus | undefined> {
    const answers = await Promise.all(
      this.instances.map(async (i) => {
        const health = await checkInstance(i, timeoutMs, endpoint);
        // No live thread to ask (idle): no known health. Keeping an old `unhealthy` would keep traffic,
        // and so its threads, away from it for good.
        i.health = health;
        return health;
      }),
    );
    const known = answers.filter((h): h is HealthStatus => h !== undefined);
    if (known.length === 0) return undefined;
    const worst = worstHealth(known);
    if (this.instances.length === 1) return worst;
    // Several instances: which one said what, for `plugin:health` and `info.health_check.last`.
    const each = Object.fromEntries(this.instances.map((i, n) => [i.id, answers[n]?.status]));
    return { status: worst.status, details: { ...worst.details, instances: each } };
  }
}
