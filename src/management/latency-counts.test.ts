import { describe, expect, it } from 'vitest';
import { LatencyCounts } from './latency-counts.js';

describe('LatencyCounts', () => {
  it('answers percentiles within one bucket (6.25 %) of the exact value', () => {
    const counts = new LatencyCounts();
    const values: number[] = [];
    for (let i = 1; i <= 20_000; i++) {
      const v = Math.round(Math.exp((i % 997) / 70)); // 1 µs to ~1.5 s, spread over every octave
      values.push(v);
      counts.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [1, 50, 90, 99, 99.9, 100]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1]!;
      const got = counts.percentile(p);
      expect(got, `p${p}`).toBeGreaterThanOrEqual(exact);
      expect(got, `p${p}`).toBeLessThanOrEqual(Math.max(exact * 1.0625, exact + 1));
    }
  });

  it('is exact below 16 µs, clamps out-of-range values, and empties on reset', () => {
    const counts = new LatencyCounts();
    expect(counts.percentile(50)).toBe(0);
    counts.record(0.2);
    expect(counts.percentile(100)).toBe(1);
    counts.record(7);
    expect(counts.percentile(100)).toBe(7);
    counts.record(Number.MAX_SAFE_INTEGER);
    expect(counts.percentile(100)).toBe(0x7fffffff);
    counts.reset();
    expect(counts.percentile(100)).toBe(0);
  });
});
