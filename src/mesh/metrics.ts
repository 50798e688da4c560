/**
 * Per-plugin request metrics: counters and a latency histogram, recorded once per request.
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Latencies are kept from 1 µs to an hour (`pluginTimeout`'s ceiling) within 1%: about 30 KiB each. */
const HIGHEST_US = 3_600_000_000;

export class PluginMetricsRecorder {
  requests = 0;
  errors = 0;
  events = 0;
  #totalMs = 0;
  /** Made on the first request: a plugin that never served holds none (the default range takes ~140 KiB). */
  #latency: RecordableHistogram | undefined;

  /** Records one answered request. */
  record(statusCode: number, durationMs: number): void {
    this.requests++;
    if (statusCode >= 500) this.errors++;
    this.#totalMs += durationMs;
    // Microsecond resolution; the histogram takes integers >= 1.
    this.#latency ??= createHistogram({ lowest: 1, highest: HIGHEST_US, figures: 2 });
    this.#latency.record(Math.min(HIGHEST_US, Math.max(1, Math.round(durationMs * 1000))));
  }

  get meanMs(): number {
    return this.requests === 0 ? 0 : this.#totalMs / this.requests;
  }

  /** Latency at percentile `p` (0–100), ms. */
  percentileMs(p: number): number {
    return this.#latency === undefined ? 0 : this.#latency.percentile(p) / 1000;
  }
}
