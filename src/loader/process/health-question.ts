/**
 * The host's `health` question to a plugin process: numbered, so that a late answer to an earlier
 * question is not taken for this one, and given up after its timeout.
 * @module
 */
import type { HealthStatus } from '../../shared/types.js';

export class HealthQuestion {
  #seq = 0;
  #answer: ((seq: number, status: HealthStatus) => void) | undefined;

  /** Asks (`send` carries the question's number); undefined when no answer came within `timeoutMs`. */
  async ask(send: (seq: number) => void, timeoutMs: number): Promise<HealthStatus | undefined> {
    const seq = ++this.#seq;
    const status = await new Promise<HealthStatus | undefined>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs, undefined);
      this.#answer = (answered, s) => {
        if (answered !== seq) return;
        clearTimeout(timer);
        resolve(s);
      };
      send(seq);
    });
    this.#answer = undefined;
    return status;
  }

  /** The process's `health` note. */
  answered(seq: number, status: HealthStatus): void {
    this.#answer?.(seq, status);
  }
}
