/**
 * Keeps the stream entries a consumer is still handling its own. Redis counts an entry's idle time
 * from its last delivery, and `XAUTOCLAIM` hands an entry idle past `claimIdle` to whichever consumer
 * asks: without this, a live consumer whose handler (or whose gateway's stop) takes longer than
 * `claimIdle` loses the entry to another gateway, and both handle it. Every `claimIdle / 3`, each
 * entry in flight that this consumer still owns is claimed again by it (`XCLAIM … JUSTID`: idle reset,
 * delivery count unchanged). A consumer that dies stops renewing, and its entries go to the others
 * after `claimIdle`, as before.
 * @module
 */

/** Renews only what `consumer` still owns: an entry another consumer claimed meanwhile stays theirs. */
const LUA_RENEW = `
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return 0
`;

export class StreamLease {
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly stream: string,
    readonly group: string,
    readonly consumer: string,
    readonly claimIdleMs: number,
    /** Sends one command on the host's client (the consumer's own may be closed while it stops). */
    readonly call: (command: string, ...args: (string | number)[]) => Promise<unknown>,
  ) {}

  /** Handles entry `id` under the lease until `handling` settles. */
  async hold<T>(id: string, handling: () => Promise<T>): Promise<T> {
    this.#held.add(id);
    this.#timer ??= setInterval(() => this.#renew(), Math.max(10, this.claimIdleMs / 3));
    this.#timer.unref();
    try {
      return await handling();
    } finally {
      this.#held.delete(id);
      if (this.#held.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    }
  }

  #renew(): void {
    if (this.#held.size === 0) return;
    const ids = [...this.#held];
    // A renewal that fails (Redis away) is only a renewal: the entry may then be claimed elsewhere.
    this.call('EVAL', LUA_RENEW, 1, this.stream, this.group, this.consumer, ...ids).catch(() => {});
  }
}
