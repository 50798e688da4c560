/**
 * Load balancing across a plugin's instances: a balancer is just a function that picks one of the
 * candidates (as piscina's balancer is). The gateway hands it only instances whose circuit breaker
 * would let a call through, so every strategy here is breaker-aware.
 * @module
 */

/** What a balancer sees of an instance. */
export interface Balanced {
  /** Requests in flight on the instance now. */
  readonly outstanding: number;
}

/** Picks one of `candidates` (never empty), or `undefined` to refuse. */
export type LoadBalancer = <T extends Balanced>(candidates: readonly T[]) => T | undefined;

/** Each candidate in turn. */
export function roundRobin(): LoadBalancer {
  let next = 0;
  return (candidates) => candidates[next++ % candidates.length];
}

/** The candidate with the fewest requests in flight (the first of equals). */
export function leastOutstanding(): LoadBalancer {
  return (candidates) => {
    let best = candidates[0];
    for (const c of candidates) if (c.outstanding < best!.outstanding) best = c;
    return best;
  };
}

/** Two candidates at random, the less busy of them: near least-outstanding at O(1) for many instances. */
export function powerOfTwoChoices(random: () => number = Math.random): LoadBalancer {
  return (candidates) => {
    if (candidates.length < 3) return leastOutstanding()(candidates);
    const a = candidates[Math.floor(random() * candidates.length)]!;
    let b = candidates[Math.floor(random() * (candidates.length - 1))]!;
    if (b === a) b = candidates[candidates.length - 1]!;
    return b.outstanding < a.outstanding ? b : a;
  };
}

/** The balancer named in the gateway's options, or the host's own function. */
export function balancerFrom(
  option: 'round-robin' | 'least-outstanding' | 'power-of-two' | LoadBalancer,
): LoadBalancer {
  if (typeof option === 'function') return option;
  return option === 'round-robin'
    ? roundRobin()
    : option === 'power-of-two'
      ? powerOfTwoChoices()
      : leastOutstanding();
}
