import { describe, expect, it } from 'vitest';
import { REPLAY_CAPACITY, ReplayGuard } from './replay-guard.js';

describe('ReplayGuard', () => {
  it('admits a signature once, and refuses it again while it has not expired', () => {
    const guard = new ReplayGuard();
    expect(guard.admit('sig-a', 2000, 1000)).toBeUndefined();
    expect(guard.admit('sig-a', 2000, 1500)).toBe('this call was already received (replay)');
    // Still remembered at the very millisecond it expires.
    expect(guard.admit('sig-a', 2000, 2000)).toMatch(/replay/);
    expect(guard.admit('sig-b', 2000, 1500)).toBeUndefined();
    expect(guard.size).toBe(2);
  });

  it('forgets a signature once its time has passed: memory stays bounded by the window', () => {
    const guard = new ReplayGuard();
    guard.admit('old', 1000, 0);
    guard.admit('newer', 5000, 0);
    expect(guard.admit('fresh', 9000, 1001)).toBeUndefined();
    expect(guard.size).toBe(2);
    // Past its expiry, the same signature is not a replay any more (the timestamp check refuses it).
    expect(guard.admit('old', 9000, 1001)).toBeUndefined();
  });

  it('sweeps from the oldest and stops at the first that has not expired', () => {
    const guard = new ReplayGuard();
    guard.admit('a', 100, 0);
    guard.admit('b', 300, 0);
    guard.admit('c', 200, 0);
    guard.admit('d', 250, 150);
    // a went; b has not expired, so c (expired, behind it) is kept a little longer.
    expect(guard.size).toBe(3);
    expect(guard.admit('c', 400, 260)).toMatch(/replay/);
  });

  it('fails closed when full, until older calls expire', () => {
    const guard = new ReplayGuard(2);
    expect(guard.admit('a', 100, 0)).toBeUndefined();
    expect(guard.admit('b', 200, 0)).toBeUndefined();
    expect(guard.admit('c', 200, 50)).toBe(
      'more than 2 peer calls within the clock-skew window: refused until older ones expire',
    );
    expect(guard.size).toBe(2);
    expect(guard.admit('c', 200, 101)).toBeUndefined();
    expect(guard.size).toBe(2);
  });

  it('holds half a million calls by default', () => {
    expect(REPLAY_CAPACITY).toBe(500_000);
    expect(new ReplayGuard().capacity).toBe(REPLAY_CAPACITY);
  });
});
