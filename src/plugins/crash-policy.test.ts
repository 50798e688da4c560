import { describe, expect, it } from 'vitest';
import { CrashPolicy } from './crash-policy.js';

describe('CrashPolicy', () => {
  it('counts crashes within the window only, and doubles the backoff up to its cap', () => {
    let now = 0;
    const policy = new CrashPolicy(
      { maxCrashes: 3, window: 60_000, backoff: 100, maxBackoff: 250 },
      () => now,
    );
    expect(policy.record()).toBe(1);
    expect(policy.delay(1)).toBe(100);
    now = 30_000;
    expect(policy.record()).toBe(2);
    expect(policy.delay(2)).toBe(200);
    expect(policy.delay(3)).toBe(250);
    now = 61_000; // the first crash left the window
    expect(policy.record()).toBe(2);
    expect(policy.exhausted(2)).toBe(false);
    expect(policy.record()).toBe(3);
    expect(policy.exhausted(3)).toBe(true);
    expect(policy.total).toBe(4);
  });
});
