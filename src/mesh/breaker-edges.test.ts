// The circuit breaker at the edges its unit tests left open (docs/mutation-testing.md, mesh): what it
// reports between rounds, the failure rate exactly at its threshold, a window on a clock that does not
// start at 0, and how often a success reads the clock.
import { describe, expect, it } from 'vitest';
import {
  CircuitBreakerPolicy,
  worstBreakerState,
  type CircuitBreakerOptions,
} from './circuit-breaker.js';
import { breakerStrategy, WindowedBreaker } from './breaker-strategies.js';
import { FailureWindow } from './failure-window.js';

function breaker(options: Partial<CircuitBreakerOptions> = {}, start = 0) {
  const clock = { now: start };
  const policy = new CircuitBreakerPolicy({
    failureThreshold: 3,
    timeout: 1000,
    halfOpenLimit: 2,
    now: () => clock.now,
    ...options,
  });
  const call = (ok: boolean) => {
    const a = policy.admit();
    if (ok) policy.success(a);
    else policy.failure(a);
  };
  return { policy, clock, call };
}

describe('what a breaker reports', () => {
  it('is available when closed, also after recovering through its probes', () => {
    const { policy, clock, call } = breaker();
    expect([policy.available, policy.retryAfterMs]).toEqual([true, 0]);
    for (let i = 0; i < 3; i++) call(false);
    clock.now = 1000;
    call(true);
    call(true);
    expect(policy.state).toBe('closed');
    expect([policy.available, policy.retryAfterMs]).toEqual([true, 0]);
  });

  it('is not available when half-open with every probe place taken, and says 0 ms to wait then', () => {
    const { policy, clock, call } = breaker();
    for (let i = 0; i < 3; i++) call(false);
    clock.now = 5000;
    policy.admit();
    expect([policy.state, policy.available, policy.retryAfterMs]).toEqual(['half-open', true, 0]);
    policy.admit();
    expect([policy.state, policy.available]).toEqual(['half-open', false]);
  });

  it('counts the open time from when it opened, on a clock that does not start at 0', () => {
    const { policy, clock, call } = breaker({}, 50_000);
    for (let i = 0; i < 3; i++) call(false);
    clock.now = 50_400;
    expect([policy.state, policy.available, policy.retryAfterMs]).toEqual(['open', false, 600]);
    clock.now = 51_000;
    expect([policy.available, policy.retryAfterMs]).toEqual([true, 0]);
  });

  it('reads performance.now() when given no clock', () => {
    const policy = new CircuitBreakerPolicy({
      failureThreshold: 1,
      timeout: 60_000,
      halfOpenLimit: 1,
    });
    policy.failure(policy.admit());
    expect(policy.state).toBe('open');
    expect(policy.available).toBe(false);
    expect(policy.retryAfterMs).toBeGreaterThan(0);
    expect(policy.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('sums up several breakers as the worst: open over half-open over closed', () => {
    expect(worstBreakerState([])).toBe('closed');
    expect(worstBreakerState(['closed', 'closed'])).toBe('closed');
    expect(worstBreakerState(['closed', 'half-open', 'closed'])).toBe('half-open');
    expect(worstBreakerState(['half-open', 'open', 'closed'])).toBe('open');
    expect(worstBreakerState(['open', 'half-open'])).toBe('open');
  });
});

describe('the windowed strategies at their thresholds', () => {
  it("'failure-rate' opens at exactly failureRate of minThroughput calls", () => {
    const { policy, call } = breaker({
      policy: 'failure-rate',
      failureRate: 0.5,
      minThroughput: 4,
    });
    call(true);
    call(true);
    call(false);
    expect(policy.state).toBe('closed');
    call(false);
    expect(policy.state).toBe('open');
  });

  it("'consecutive-and-rate' with exactly minThroughput calls judges by the rate, not the run", () => {
    const { policy, call } = breaker({ failureRate: 0.5, minThroughput: 10 });
    for (let i = 0; i < 7; i++) call(true);
    for (let i = 0; i < 3; i++) call(false);
    // 3 in a row, but 3 of 10 calls is under the rate.
    expect(policy.state).toBe('closed');
  });

  it('forgets the failures that opened the circuit once its probes close it', () => {
    const { policy, clock, call } = breaker({
      policy: 'failure-rate',
      failureRate: 0.5,
      minThroughput: 4,
      halfOpenLimit: 1,
    });
    for (let i = 0; i < 4; i++) call(false);
    expect(policy.state).toBe('open');
    clock.now = 1000;
    call(true);
    expect(policy.state).toBe('closed');
    // With the old failures still counted, 5 of 6 calls would have failed.
    call(false);
    expect(policy.state).toBe('closed');
  });

  it('starts an empty window once its probes close it, not one holding the closing success', () => {
    const { policy, clock, call } = breaker({
      policy: 'failure-rate',
      failureRate: 1,
      minThroughput: 2,
      halfOpenLimit: 1,
    });
    call(false);
    call(false);
    expect(policy.state).toBe('open');
    clock.now = 1000;
    call(true);
    expect(policy.state).toBe('closed');
    // Two failures are every call of the new window: it opens again.
    call(false);
    call(false);
    expect(policy.state).toBe('open');
  });

  it('says what its window holds', () => {
    const strategy = breakerStrategy(
      {
        policy: 'consecutive-and-rate',
        failureThreshold: 5,
        failureRate: 0.5,
        window: 10_000,
        minThroughput: 20,
      },
      () => 0,
    ) as WindowedBreaker;
    expect(strategy).toBeInstanceOf(WindowedBreaker);
    strategy.failure();
    strategy.success(0);
    strategy.failure();
    strategy.failure();
    expect(strategy.state).toEqual({ calls: 4, failures: 3, inARow: 2 });
  });
});

describe('FailureWindow on a real clock', () => {
  it('slides on a clock that does not start at 0', () => {
    const clock = { now: 1_000_000 };
    const w = new FailureWindow(1000, () => clock.now);
    w.record(true);
    w.record(true);
    expect([w.calls, w.failures]).toEqual([2, 2]);
    clock.now += 5000;
    w.record(true);
    expect([w.calls, w.failures]).toEqual([1, 1]);
  });

  it('reads the clock once per failure, and once per 32 successes', () => {
    let reads = 0;
    const w = new FailureWindow(1000, () => (reads++, 0));
    expect(reads).toBe(1);
    for (let i = 0; i < 31; i++) w.record(false);
    expect(reads).toBe(1);
    w.record(false);
    expect(reads).toBe(2);
    for (let i = 0; i < 64; i++) w.record(false);
    expect(reads).toBe(4);
    w.record(true);
    expect(reads).toBe(5);
  });
});
