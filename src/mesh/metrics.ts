/**
 * Per-plugin request metrics: counters and a latency histogram, recorded once per request.
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export class PluginMetricsRecorder {
  requests = 0;
  errors = 0;
  events = 0;
  #totalMs = 0;
  #latency: RecordableHistogram = createHistogram();

  /** Records one answered request. */
  record(statusCode: number, durationMs: number): void {
    this.requests++;
    if (statusCode >= 500) this.errors++;
    this.#totalMs += durationMs;
    // Microsecond resolution; the histogram takes integers >= 1.
    this.#latency.record(Math.max(1, Math.round(durationMs * 1000)));
  }

  get meanMs(): number {
    return this.requests === 0 ? 0 : this.#totalMs / this.requests;
  }

  /** Latency at percentile `p` (0–100), ms. */
  percentileMs(p: number): number {
    return this.requests === 0 ? 0 : this.#latency.percentile(p) / 1000;
  }
}
