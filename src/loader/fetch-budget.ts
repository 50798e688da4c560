/**
 * What the host spends on one plugin instance's fetches, against the gateway's `limits`: fetches in
 * flight (each holds a socket), answer bytes buffered for them together, and — when the manifest sets
 * `resources.network` — the rate at which the host reads answers for it (Mbit/s). Checked before the
 * work: a fetch over the concurrency is refused before it connects, a chunk that would pass the buffer
 * ceiling aborts its fetch before it is kept, and a plugin over its rate waits (its socket unread, so
 * the server is held back by TCP, not by host memory).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { limitError } from '../shared/host-limits.js';

/** Ceilings of one instance's fetches. */
export interface FetchCeilings {
  /** Fetches in flight at once. */
  concurrency: number;
  /** Answer bytes buffered at once, all fetches together. */
  bufferBytes: number;
  /** Mbit/s of answers read for the plugin (`resources.network`); undefined: not throttled. */
  mbps?: number | undefined;
}

/** The running account of one plugin instance's fetches. */
export class FetchBudget {
  #inFlight = 0;
  #buffered = 0;
  /** When the throttle has paid for every byte read so far (ms, `performance.now()`). */
  #paidUntil = 0;

  constructor(readonly ceilings: FetchCeilings) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Takes a place for one fetch; release it with {@link FetchBudget.release}.
   * @throws {Error} when `concurrency` fetches are in flight.
   */
  enter(): void {
    if (this.#inFlight >= this.ceilings.concurrency) {
      throw limitError(
        `${this.#inFlight} fetches in flight already, the gateway's limit (limits.fetchConcurrency)`,
      );
    }
    this.#inFlight++;
  }

  release(): void {
    this.#inFlight--;
  }

  /**
   * Accounts `bytes` more buffered for a fetch, before they are kept.
   * @throws {Error} when they would pass `bufferBytes`.
   */
  hold(bytes: number): void {
    if (this.#buffered + bytes > this.ceilings.bufferBytes) {
      throw limitError(
        `the plugin's fetches would buffer more than ${this.ceilings.bufferBytes} bytes at once (limits.fetchBufferBytes)`,
      );
    }
    this.#buffered += bytes;
  }

  free(bytes: number): void {
    this.#buffered -= bytes;
  }

  /** Waits until `bytes` just read fit the plugin's rate; at once when it has none. */
  async pace(bytes: number, signal: AbortSignal): Promise<void> {
    const { mbps } = this.ceilings;
    if (mbps === undefined) return;
    const now = performance.now();
    this.#paidUntil = Math.max(this.#paidUntil, now) + (bytes * 8) / (mbps * 1000);
    const wait = this.#paidUntil - now;
    if (wait >= 1) await sleep(wait, undefined, { signal });
  }
}
