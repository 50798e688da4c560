/**
 * `DrainSignal`: how a runtime's `drain()` waits for its last request in flight, or for its time to
 * run out, whichever comes first. The runtime calls `settled()` each time it has nothing in flight.
 * @module
 */
export class DrainSignal {
  #waiting: (() => void) | undefined;

  /** Resolves at the next `settled()`, or after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiting = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#waiting = undefined;
  }

  /** Nothing is in flight any more: a `wait()` under way resolves. */
  settled(): void {
    this.#waiting?.();
  }
}
