/**
 * A plugin's instances: one runtime (a worker pool of its own) and one circuit breaker each. The group
 * presents them to the rest of the gateway as a single runtime — boot, drain, close, health and figures
 * cover them all — while requests pick their instance through the balancer.
 * @module
 */
import type { PluginRuntime, RuntimeStats, TaskInput } from '../loader/runtime.js';
import type { BootReport, TaskResult } from '../loader/runtime.js';
import { worstHealth } from '../shared/health.js';
import type { BulkheadPolicy } from './bulkhead.js';
import type { CircuitBreakerPolicy } from './circuit-breaker.js';
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
  constructor(
    readonly id: string,
    readonly runtime: PluginRuntime,
    readonly breaker: CircuitBreakerPolicy,
  ) {}
}

export class InstanceGroup implements PluginRuntime {
  constructor(readonly instances: readonly PluginInstance[]) {}

  /** Runs on the least busy instance (events, boot). */
  run(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
    let best = this.instances[0]!;
    for (const i of this.instances) if (i.outstanding < best.outstanding) best = i;
    return runOn(best, task, timeoutMs);
  }

  async boot(timeoutMs: number): Promise<BootReport> {
    const reports = await Promise.all(this.instances.map((i) => i.runtime.boot(timeoutMs)));
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
    };
  }

  async checkHealth(timeoutMs: number): Promise<HealthStatus | undefined> {
    const answers = (
      await Promise.all(this.instances.map((i) => i.runtime.checkHealth(timeoutMs)))
    ).filter((h): h is HealthStatus => h !== undefined);
    if (answers.length === 0) return undefined;
    return worstHealth(answers);
  }
}
