import { describe, expect, it } from 'vitest';
import { Admission, CircuitBreakerPolicy, type BreakerState } from './circuit-breaker.js';

function breaker(options: Partial<ConstructorParameters<typeof CircuitBreakerPolicy>[0]> = {}) {
  const clock = { now: 0 };
  const policy = new CircuitBreakerPolicy({
    failureThreshold: 3,
    timeout: 1000,
    halfOpenLimit: 2,
    now: () => clock.now,
    ...options,
  });
  const states: BreakerState[] = [];
  policy.onStateChange((s) => states.push(s));
  return { policy, clock, states };
}

describe('CircuitBreakerPolicy', () => {
  it('opens after failureThreshold failures in a row; a success in between resets the count', () => {
    const { policy, states } = breaker();
    for (const ok of [false, false, true, false, false]) {
      const a = policy.admit();
      if (ok) policy.success(a);
      else policy.failure(a);
    }
    expect(policy.state).toBe('closed');
    policy.failure(policy.admit());
    expect(policy.state).toBe('open');
    expect(states).toEqual(['open']);
    expect(policy.admit()).toBe(Admission.Refused);
  });

  it('after the timeout lets exactly halfOpenLimit probes through, and closes when they all succeed', () => {
    const { policy, clock, states } = breaker();
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 999;
    expect(policy.admit()).toBe(Admission.Refused);
    expect(policy.retryAfterMs).toBe(1);
    clock.now = 1000;
    const probes = [policy.admit(), policy.admit(), policy.admit()];
    expect(probes.map((p) => p === Admission.Refused)).toEqual([false, false, true]);
    policy.success(probes[0]!);
    expect(policy.state).toBe('half-open');
    policy.success(probes[1]!);
    expect(policy.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again on a failed probe, for another full timeout', () => {
    const { policy, clock, states } = breaker({ halfOpenLimit: 1 });
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 1000;
    policy.failure(policy.admit());
    expect(policy.state).toBe('open');
    clock.now = 1999;
    expect(policy.admit()).toBe(Admission.Refused);
    expect(states).toEqual(['open', 'half-open', 'open']);
  });

  it('gives a probe back when the call never reached the instance', () => {
    const { policy, clock } = breaker({ halfOpenLimit: 1 });
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 1000;
    policy.release(policy.admit());
    expect(policy.admit()).not.toBe(Admission.Refused);
  });

  it('does not close on a late success from an earlier half-open round', () => {
    const { policy, clock, states } = breaker({ halfOpenLimit: 2 });
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 1000;
    const a = policy.admit();
    const b = policy.admit();
    policy.failure(b);
    expect(policy.state).toBe('open');
    clock.now = 2000;
    const c = policy.admit();
    expect(c).not.toBe(Admission.Refused);
    policy.success(a);
    policy.success(c);
    expect(policy.state).toBe('half-open');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open']);
    const d = policy.admit();
    policy.success(d);
    expect(policy.state).toBe('closed');
  });

  it('ignores a late failure from an earlier round', () => {
    const { policy, clock } = breaker({ halfOpenLimit: 2 });
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 1000;
    const a = policy.admit();
    policy.failure(policy.admit());
    clock.now = 2000;
    const c = policy.admit();
    policy.failure(a);
    expect(policy.state).toBe('half-open');
    policy.success(c);
    policy.success(policy.admit());
    expect(policy.state).toBe('closed');
  });

  it('gives no extra probe place to the current round for a late release from an earlier one', () => {
    const { policy, clock } = breaker({ halfOpenLimit: 2 });
    for (let i = 0; i < 3; i++) policy.failure(policy.admit());
    clock.now = 1000;
    const stale = policy.admit();
    policy.failure(policy.admit());
    clock.now = 2000;
    const probes = [policy.admit(), policy.admit()];
    expect(probes).not.toContain(Admission.Refused);
    policy.release(stale);
    expect(policy.admit()).toBe(Admission.Refused);
    for (const p of probes) policy.success(p);
    expect(policy.state).toBe('closed');
  });

  it('does not count a failure admitted before the circuit last closed', () => {
    const { policy, clock } = breaker({ failureThreshold: 1, halfOpenLimit: 1 });
    const old = policy.admit();
    policy.failure(policy.admit());
    clock.now = 1000;
    policy.success(policy.admit());
    expect(policy.state).toBe('closed');
    policy.failure(old);
    expect(policy.state).toBe('closed');
  });
});
