/**
 * `LatencyCounts`: a latency histogram cheap enough to record every response in.
 * @module
 */

/**
 * Latencies in µs, in 16 buckets per power of two (within 6.25 %): recording is an index and an
 * increment — it runs for every response — where `perf_hooks` histograms cost a native call.
 */
export class LatencyCounts {
  readonly #counts = new Uint32Array(448);
  #total = 0;

  /** Counts one latency, µs (below 1 counts as 1, beyond 2^31-1 as 2^31-1). */
  record(us: number): void {
    const v = us < 1 ? 1 : us > 0x7fffffff ? 0x7fffffff : us | 0;
    let index = v;
    if (v >= 16) {
      const e = 31 - Math.clz32(v);
      index = (e - 3) * 16 + ((v >>> (e - 4)) - 16);
    }
    this.#counts[index]!++;
    this.#total++;
  }

  /** The upper bound of the bucket holding percentile `p` (0–100), µs; 0 when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        if (i < 16) return i;
        const e = (i >>> 4) + 3;
        return ((16 + (i & 15)) << (e - 4)) + (1 << (e - 4)) - 1;
      }
    }
    return 0;
  }

  /** Forgets every count. */
  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
  }
}
