/**
 * Crash accounting: how many times a plugin's threads died within a sliding window, and how long
 * to wait before serving again (exponential backoff).
 * @module
 */

export interface CrashPolicyOptions {
  maxCrashes: number;
  window: number;
  backoff: number;
  maxBackoff: number;
}

export class CrashPolicy {
  #times: number[] = [];
  #total = 0;

  constructor(
    readonly options: CrashPolicyOptions,
    readonly now: () => number = Date.now,
  ) {}

  /** Records a crash; returns how many fell within the window, this one included. */
  record(): number {
    const now = this.now();
    this.#total++;
    this.#times = this.#times.filter((t) => now - t < this.options.window);
    this.#times.push(now);
    return this.#times.length;
  }

  /** Crashes since the plugin was loaded. */
  get total(): number {
    return this.#total;
  }

  /** True when `recent` crashes in the window mean the plugin should give up. */
  exhausted(recent: number): boolean {
    return recent >= this.options.maxCrashes;
  }

  /** Delay before the `recent`-th restart: backoff, doubled each time, capped. */
  delay(recent: number): number {
    return Math.min(this.options.maxBackoff, this.options.backoff * 2 ** Math.max(0, recent - 1));
  }
}
