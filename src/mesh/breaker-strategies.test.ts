import { describe, expect, it } from 'vitest';
import { Admission, CircuitBreakerPolicy, type CircuitBreakerOptions } from './circuit-breaker.js';
import { FailureWindow } from './failure-window.js';

function breaker(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = { now: 0 };
  const policy = new CircuitBreakerPolicy({
    failureThreshold: 5,
    timeout: 1000,
    halfOpenLimit: 1,
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

describe('FailureWindow', () => {
  it('counts calls and failures of the last window, and forgets them as the clock moves on', () => {
    const clock = { now: 0 };
    const w = new FailureWindow(1000, () => clock.now);
    w.record(true);
    w.record(false);
    clock.now = 550;
    w.record(true);
    expect([w.calls, w.failures]).toEqual([3, 2]);
    clock.now = 1050;
    w.record(true);
    expect([w.calls, w.failures]).toEqual([2, 2]);
    // A quiet gap longer than the window clears every bucket it skipped.
    clock.now = 10_000;
    w.record(true);
    expect([w.calls, w.failures]).toEqual([1, 1]);
  });

  it('reads the clock on successes too, one time in 32: a window of successes alone slides', () => {
    const clock = { now: 0 };
    const w = new FailureWindow(1000, () => clock.now);
    for (let i = 0; i < 100; i++) w.record(false);
    clock.now = 5000;
    for (let i = 0; i < 32; i++) w.record(false);
    expect(w.calls).toBeLessThanOrEqual(32);
    expect(w.failures).toBe(0);
  });
});

describe("circuitBreaker.policy 'consecutive-and-rate' (the default)", () => {
  it('opens after failureThreshold failures in a row when every call fails', () => {
    const { policy, call } = breaker();
    for (let i = 0; i < 4; i++) call(false);
    expect(policy.state).toBe('closed');
    call(false);
    expect(policy.state).toBe('open');
  });

  it('with fewer than minThroughput calls in the window, failureThreshold in a row opens alone', () => {
    const { policy, call } = breaker({ minThroughput: 20 });
    for (let i = 0; i < 10; i++) call(true);
    for (let i = 0; i < 5; i++) call(false);
    expect(policy.state).toBe('open');
  });

  it('stays closed on a run of failures that is a small share of the window (a batch of timeouts)', () => {
    const { policy, call } = breaker();
    for (let i = 0; i < 100; i++) call(true);
    for (let i = 0; i < 20; i++) call(false);
    expect(policy.state).toBe('closed');
  });

  it('opens once the run of failures is at least failureRate of the window', () => {
    const { policy, call, clock } = breaker({ failureRate: 0.5, window: 1000, minThroughput: 10 });
    for (let i = 0; i < 10; i++) call(true);
    for (let i = 0; i < 9; i++) call(false);
    expect(policy.state).toBe('closed');
    call(false);
    expect(policy.state).toBe('open');
    // Half-open after the timeout, read from the clock at admission; a good probe closes it, afresh.
    clock.now = 1000;
    call(true);
    expect(policy.state).toBe('closed');
    for (let i = 0; i < 5; i++) call(false);
    expect(policy.state).toBe('open');
  });
});

describe("circuitBreaker.policy 'failure-rate'", () => {
  it('judges only once the window holds minThroughput calls, then opens at failureRate', () => {
    const { policy, call } = breaker({
      policy: 'failure-rate',
      minThroughput: 10,
      failureRate: 0.5,
    });
    for (let i = 0; i < 9; i++) call(false);
    expect(policy.state).toBe('closed');
    call(false);
    expect(policy.state).toBe('open');
  });

  it('never opens at a failure rate below failureRate, whatever the runs of failures', () => {
    const { policy, call } = breaker({
      policy: 'failure-rate',
      minThroughput: 10,
      failureRate: 0.5,
    });
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) call(true);
      for (let i = 0; i < 6; i++) call(false);
    }
    expect(policy.state).toBe('closed');
  });

  it('forgets failures older than the window', () => {
    const { policy, call, clock } = breaker({
      policy: 'failure-rate',
      minThroughput: 4,
      failureRate: 0.5,
      window: 1000,
    });
    for (let i = 0; i < 3; i++) call(false);
    clock.now = 2000;
    call(false);
    for (let i = 0; i < 3; i++) call(true);
    expect(policy.state).toBe('closed');
  });
});

describe("circuitBreaker.policy 'consecutive'", () => {
  it('opens after failureThreshold in a row whatever the rate', () => {
    const { policy, call } = breaker({ policy: 'consecutive' });
    for (let i = 0; i < 1000; i++) call(true);
    for (let i = 0; i < 5; i++) call(false);
    expect(policy.state).toBe('open');
    expect(policy.admit()).toBe(Admission.Refused);
  });
});
