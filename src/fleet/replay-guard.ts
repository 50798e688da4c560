/**
 * Replay protection for signed peer calls: each accepted signature is remembered until its timestamp
 * leaves the clock-skew window, and a second use within it is refused. Bounded: past `capacity`
 * remembered calls, new calls are refused (fail closed) until older ones expire.
 * @module
 */

/** Calls remembered at most: ~100 bytes each, so ~50 MiB when full (≈ 16,000 peer calls a second). */
export const REPLAY_CAPACITY = 500_000;

export class ReplayGuard {
  /** Signature → when it may be forgotten (epoch ms). Insertion order ≈ expiry order. */
  readonly #seen = new Map<string, number>();
  constructor(readonly capacity = REPLAY_CAPACITY) {}

  /** Remembers `signature` until `expires`; why it is refused, or `undefined` the first time. */
  admit(signature: string, expires: number, now: number): string | undefined {
    this.#sweep(now);
    if (this.#seen.has(signature)) return 'this call was already received (replay)';
    if (this.#seen.size >= this.capacity) {
      return `more than ${this.capacity} peer calls within the clock-skew window: refused until older ones expire`;
    }
    this.#seen.set(signature, expires);
    return undefined;
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Forgets expired calls from the oldest on. Timestamps arrive nearly in order; an entry that expires
   * before an older, later-expiring one is kept a little longer, which only costs memory.
   */
  #sweep(now: number): void {
    for (const [signature, expires] of this.#seen) {
      if (expires >= now) return;
      this.#seen.delete(signature);
    }
  }
}
