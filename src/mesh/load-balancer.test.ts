import { describe, expect, it } from 'vitest';
import { balancerFrom, leastOutstanding, powerOfTwoChoices, roundRobin } from './load-balancer.js';

const instances = (...outstanding: number[]) =>
  outstanding.map((o, i) => ({ id: i, outstanding: o }));

describe('load balancers', () => {
  it('round-robin takes each in turn', () => {
    const pick = roundRobin();
    const c = instances(0, 0, 0);
    expect([pick(c), pick(c), pick(c), pick(c)].map((i) => i!.id)).toEqual([0, 1, 2, 0]);
  });

  it('least-outstanding takes the least busy', () => {
    expect(leastOutstanding()(instances(3, 1, 2))!.id).toBe(1);
  });

  it('power-of-two-choices takes the less busy of two random ones', () => {
    const rolls = [0, 0.99];
    const pick = powerOfTwoChoices(() => rolls.shift()!);
    expect(pick(instances(5, 9, 1, 7))!.id).toBe(2);
    expect(powerOfTwoChoices(() => 0)(instances(5, 9, 1))!.id).toBe(2);
  });

  it('accepts a host function', () => {
    const mine = <T>(c: readonly T[]) => c[c.length - 1];
    expect(balancerFrom(mine)(instances(0, 0))!.id).toBe(1);
  });
});
