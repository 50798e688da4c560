/**
 * `RemoteService`: a plugin that this gateway does not run but other gateways of the fleet do. Its
 * instances are their registry records, each reached through a `RemoteRuntime` with a circuit breaker of
 * its own, so the balancer routes around a gateway that stopped answering until its lease runs out.
 * @module
 */
import semver from 'semver';
import { RemoteRuntime, type PeerClient } from '../loader/remote-runtime.js';
import { BulkheadPolicy } from '../mesh/bulkhead.js';
import { CircuitBreakerPolicy, type BreakerState } from '../mesh/circuit-breaker.js';
import { PluginMetricsRecorder } from '../mesh/metrics.js';
import type { InstanceRecord } from '../registry/registry.js';
import { PluginInstance, type Served } from './instances.js';
import type { PluginEndpoint } from './types.js';

export interface RemotePolicies {
  circuitBreaker: { failureThreshold: number; timeout: number; halfOpenLimit: number };
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
      new RemoteRuntime(this.client, record.address!, this.name, record.version, record.id),
      breaker,
    );
  }
}
