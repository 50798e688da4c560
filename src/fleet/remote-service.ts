/**
 * `RemoteService`: a plugin that this gateway does not run but other gateways of the fleet do. Its
 * instances are their registry records, each reached through a `RemoteRuntime` with a circuit breaker of
 * its own, so the balancer routes around a gateway that stopped answering until its lease runs out.
 * @module
 */
import { semver } from '../shared/semver.js';
import { RemoteRuntime, type PeerClient } from './peer-client.js';
import { BulkheadPolicy } from '../mesh/bulkhead.js';
import {
  CircuitBreakerPolicy,
  type BreakerSettings,
  type BreakerState,
} from '../mesh/circuit-breaker.js';
import { PluginMetricsRecorder } from '../mesh/metrics.js';
import type { InstanceRecord } from '../registry/registry.js';
import { PluginInstance, type Served } from '../mesh/instances.js';
import type { PluginEndpoint, PluginMetrics } from '../shared/types.js';

export interface RemotePolicies {
  /** Breakers of remote instances are kept per instance whatever `scope` says. */
  circuitBreaker: BreakerSettings;
  bulkhead: { maxConcurrent: number; maxQueued: number };
  onBreaker(state: BreakerState, event: { plugin: string; instance: string }): void;
}

export class RemoteService implements Served {
  readonly location = 'remote';
  readonly status = 'active';
  readonly retryAfterSeconds = 1;
  readonly metrics = new PluginMetricsRecorder();
  readonly bulkhead: BulkheadPolicy;
  instances: PluginInstance[] = [];
  /** The newest version among the records; only its instances serve. */
  version = '0.0.0';
  endpoints: readonly PluginEndpoint[] = [];
  /** Every live record of the service, by instance id. */
  readonly records = new Map<string, InstanceRecord>();

  constructor(
    readonly name: string,
    readonly client: PeerClient,
    readonly policies: RemotePolicies,
  ) {
    this.bulkhead = new BulkheadPolicy({
      // Remote instances have no thread count here: the other gateway's bulkhead guards its workers.
      maxConcurrent: policies.bulkhead.maxConcurrent || 1024,
      maxQueued: policies.bulkhead.maxQueued,
    });
  }

  /** Figures of the requests this gateway forwarded; CPU, memory and threads belong to the owners. */
  snapshot(): PluginMetrics {
    const r = this.metrics;
    return {
      request_count: r.requests,
      error_count: r.errors,
      response_time_ms: r.meanMs,
      cpu_usage_percent: 0,
      memory_usage_mb: 0,
      active_connections: this.instances.reduce((n, i) => n + i.outstanding, 0),
      latency_ms: { p50: r.percentileMs(50), p95: r.percentileMs(95), p99: r.percentileMs(99) },
      threads: 0,
      crashes: 0,
      event_count: 0,
      protocol_violations: 0,
      instances: this.instances.map((i) => ({
        id: i.id,
        breaker: i.breaker.state,
        outstanding: i.outstanding,
      })),
    };
  }

  /** Re-derives the serving version and instances from `records`, keeping the breakers of those that stay. */
  refresh(): void {
    const live = [...this.records.values()].filter((r) => r.status === 'active' && r.address);
    const newest = live.reduce<InstanceRecord | undefined>(
      (best, r) => (!best || semver.gt(r.version, best.version) ? r : best),
      undefined,
    );
    this.version = newest?.version ?? '0.0.0';
    this.endpoints = newest?.endpoints ?? [];
    const current = new Map(this.instances.map((i) => [i.id, i]));
    this.instances = live
      .filter((r) => r.version === this.version)
      .map((r) => current.get(r.id) ?? this.#instance(r));
  }

  #instance(record: InstanceRecord): PluginInstance {
    const breaker = new CircuitBreakerPolicy(this.policies.circuitBreaker);
    breaker.onStateChange((state) =>
      this.policies.onBreaker(state, { plugin: this.name, instance: record.id }),
    );
    return new PluginInstance(
      record.id,
      new RemoteRuntime(
        this.client,
        record.address!,
        this.name,
        record.version,
        record.id,
        record.nodeId,
      ),
      breaker,
    );
  }
}
