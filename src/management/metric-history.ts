/**
 * `MetricHistory`: per-plugin samples taken every `interval`, kept in a ring of `capacity` per plugin,
 * for the dashboard's charts and the alert rules' windows. Each sample holds what happened during its
 * interval (requests, 5xx, p50/p99 of those requests) and the state at its end (status, breakers,
 * crashes so far). Memory is bounded: `capacity` samples for each loaded plugin, nothing for others.
 * @module
 */
import type { PluginGateway } from '../core/gateway.js';
import type { Disposable, ResponseObservation } from '../core/observers.js';
import type { PluginStatus } from '../shared/types.js';
import { LatencyCounts } from './latency-counts.js';

/** One plugin's figures over one sampling interval. */
export interface MetricSample {
  /** End of the interval, epoch ms. */
  t: number;
  /** Requests answered during the interval. */
  requests: number;
  /** Of those, answered 5xx. */
  errors: number;
  /** Median latency of the interval's requests, ms (0 without requests). */
  p50: number;
  /** 99th percentile latency of the interval's requests, ms (0 without requests). */
  p99: number;
  /** Worker crashes since load, at the end of the interval. */
  crashes: number;
  /** Status at the end of the interval. */
  status: PluginStatus;
  /** Whether an operator had disabled the plugin. */
  disabled: boolean;
  /** Instances whose circuit breaker was open (or half-open) at the end of the interval. */
  breakersOpen: number;
}

/** Options of {@link MetricHistory}. */
export interface MetricHistoryOptions {
  /** Milliseconds between samples. @default 5000 */
  interval?: number;
  /** Samples kept per plugin (the oldest go first). @default 120 */
  capacity?: number;
}

/** Requests of the interval in progress, for one plugin. */
class Bucket {
  requests = 0;
  errors = 0;
  readonly latency = new LatencyCounts();
}

/** A ring of samples for one plugin. */
class Ring {
  readonly samples: MetricSample[] = [];
  constructor(readonly capacity: number) {}
  push(sample: MetricSample): void {
    if (this.samples.length === this.capacity) this.samples.shift();
    this.samples.push(sample);
  }
}

/** Per-plugin metric samples in bounded rings; `start()` samples every `interval`, `stop()` ends it. */
export class MetricHistory {
  /** Milliseconds between samples. */
  readonly interval: number;
  /** Samples kept per plugin. */
  readonly capacity: number;
  readonly #gateway: PluginGateway;
  readonly #buckets = new Map<string, Bucket>();
  readonly #rings = new Map<string, Ring>();
  readonly #listeners = new Set<(now: number) => void>();
  #timer: NodeJS.Timeout | undefined;
  #observer: Disposable | undefined;

  constructor(gateway: PluginGateway, options: MetricHistoryOptions = {}) {
    this.#gateway = gateway;
    this.interval = Math.max(10, options.interval ?? 5000);
    this.capacity = Math.max(2, options.capacity ?? 120);
  }

  /** Starts sampling (does nothing when started). */
  start(): void {
    if (this.#timer) return;
    this.#observer = this.#gateway.onResponse(this.#record);
    this.#timer = setInterval(() => this.sample(), this.interval);
    this.#timer.unref();
  }

  /** Stops sampling and lets go of the gateway's observer; the samples stay readable. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#observer?.dispose();
    this.#observer = undefined;
  }

  /** Calls `listener` after each sample, with the sample's time; returns a function that removes it. */
  onSample(listener: (now: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The samples of `plugin`, oldest first (empty for a plugin never sampled). */
  samples(plugin: string): readonly MetricSample[] {
    return this.#rings.get(plugin)?.samples ?? [];
  }

  /** The samples of `plugin` that end within the last `windowMs`, oldest first. */
  window(plugin: string, windowMs: number, now = Date.now()): readonly MetricSample[] {
    return this.samples(plugin).filter((s) => s.t > now - windowMs);
  }

  /** Takes one sample of every loaded plugin now (the timer calls it every `interval`). */
  sample(now = Date.now()): void {
    const loaded = new Set<string>();
    for (const info of this.#gateway.list()) {
      loaded.add(info.name);
      const bucket = this.#buckets.get(info.name);
      let metrics;
      try {
        metrics = this.#gateway.metrics(info.name);
      } catch {
        continue; // unloaded between list() and metrics()
      }
      const ring = this.#rings.get(info.name) ?? new Ring(this.capacity);
      this.#rings.set(info.name, ring);
      ring.push({
        t: now,
        requests: bucket?.requests ?? 0,
        errors: bucket?.errors ?? 0,
        p50: bucket?.requests ? bucket.latency.percentile(50) / 1000 : 0,
        p99: bucket?.requests ? bucket.latency.percentile(99) / 1000 : 0,
        crashes: metrics.crashes,
        status: info.status,
        disabled: info.disabled === true,
        breakersOpen: metrics.instances.filter((i) => i.breaker !== 'closed').length,
      });
      if (bucket) {
        bucket.requests = bucket.errors = 0;
        bucket.latency.reset();
      }
    }
    // Bounded by what is loaded: an unloaded plugin's history goes with it.
    for (const name of this.#rings.keys()) if (!loaded.has(name)) this.#rings.delete(name);
    for (const name of this.#buckets.keys()) if (!loaded.has(name)) this.#buckets.delete(name);
    for (const listener of this.#listeners) listener(now);
  }

  readonly #record = (o: ResponseObservation): void => {
    let bucket = this.#buckets.get(o.plugin);
    if (bucket === undefined) {
      // Only plugins the gateway routes to reach here; sample() drops those no longer loaded.
      bucket = new Bucket();
      this.#buckets.set(o.plugin, bucket);
    }
    bucket.requests++;
    if (o.statusCode >= 500) bucket.errors++;
    bucket.latency.record(o.durationMs * 1000);
  };
}
