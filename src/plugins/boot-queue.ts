/**
 * `BootQueue`: plugin boots run at most `concurrency` at a time, in the order they were asked for, so
 * that starting (or waking) many plugins does not spawn a thread for each of them at once.
 * @module
 */
export class BootQueue {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly concurrency: number) {}

  /** Boots queued or under way. */
  get pending(): number {
    return this.#running + this.#waiting.length;
  }

  /** Runs `boot` once a place is free; settles as it does. */
  run<T>(boot: () => Promise<T>): Promise<T> {
    if (this.#running < this.concurrency) {
      this.#running++;
      return this.#go(boot);
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.#go(boot));
  }

  /** Runs `boot` in a place it holds, then hands the place to the next boot waiting, or frees it. */
  #go<T>(boot: () => Promise<T>): Promise<T> {
    return Promise.resolve()
      .then(boot)
      .finally(() => {
        const next = this.#waiting.shift();
        if (next) next();
        else this.#running--;
      });
  }
}
