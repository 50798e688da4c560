/**
 * `FailureWindow`: calls and failures over the last `windowMs`, in ten buckets that slide with the clock.
 * A success costs two additions, and a clock read one time in `CLOCK_EVERY` (reading the clock on every
 * call was most of the breaker's cost: ~260 ns against ~40 ns, bench/breaker.micro.ts); a failure always
 * reads it, so the window is current whenever it is judged. A quiet gap longer than a bucket clears every
 * bucket it skipped (cockatiel's `SamplingBreaker` advances one bucket per call, so after a gap it keeps
 * counting outcomes older than its window).
 * @module
 */

const BUCKETS = 10;
/** Successes recorded between clock reads: at most this many land in a bucket a little too old. */
const CLOCK_EVERY = 32;

export class FailureWindow {
  /** Calls in the window. */
  calls = 0;
  /** Failed calls in the window. */
  failures = 0;
  readonly #bucketMs: number;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #failures = new Float64Array(BUCKETS);
  /** Index (time / bucket length) of the bucket now filling. */
  #tick = 0;
  #unclocked = 0;

  constructor(
    windowMs: number,
    readonly now: () => number,
  ) {
    this.#bucketMs = Math.max(1, windowMs / BUCKETS);
    this.#tick = Math.floor(now() / this.#bucketMs);
  }

  /** Counts one outcome now. */
  record(failed: boolean): void {
    if (failed || ++this.#unclocked >= CLOCK_EVERY) {
      this.#unclocked = 0;
      const tick = Math.floor(this.now() / this.#bucketMs);
      if (tick > this.#tick) this.#advance(tick);
    }
    const b = this.#tick % BUCKETS;
    this.#calls[b]!++;
    this.calls++;
    if (failed) {
      this.#failures[b]!++;
      this.failures++;
    }
  }

  /** Forgets every outcome. */
  clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.calls = 0;
    this.failures = 0;
  }

  #advance(tick: number): void {
    const skipped = Math.min(BUCKETS, tick - this.#tick);
    for (let t = tick - skipped + 1; t <= tick; t++) {
      const b = t % BUCKETS;
      this.calls -= this.#calls[b]!;
      this.failures -= this.#failures[b]!;
      this.#calls[b] = 0;
      this.#failures[b] = 0;
    }
    this.#tick = tick;
  }
}
