/**
 * Inside a plugin's live thread: a streamed request body as the handler reads it (`req.body`, an
 * async iterable of `Uint8Array`). It asks the host for chunks (`pull`) only as it is read, at most
 * `BODY_WINDOW` ahead: a handler that reads slowly — or never — leaves the rest on the client's socket.
 * @module
 */
import { BODY_WINDOW } from './live-protocol.js';

export class BodyReader implements AsyncIterable<Uint8Array> {
  readonly #pull: () => void;
  readonly #queue: Uint8Array[] = [];
  #asked = 0;
  #ended = false;
  #error: string | undefined;
  #wake: (() => void) | undefined;
  #taken = false;

  constructor(pull: () => void) {
    this.#pull = pull;
  }

  /** A chunk the host read. */
  push(data: Uint8Array): void {
    this.#asked = Math.max(0, this.#asked - 1);
    if (this.#ended) return;
    this.#queue.push(data);
    this.#wake?.();
  }

  /** The body ended (`error`: the host could not read it whole: too large, the client went away). */
  end(error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#wake?.();
  }

  #fill(): void {
    while (!this.#ended && this.#asked + this.#queue.length < BODY_WINDOW) {
      this.#asked++;
      this.#pull();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#taken) throw new TypeError('a streamed request body can be read once');
    this.#taken = true;
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          const data = this.#queue.shift();
          if (data !== undefined) {
            this.#fill();
            return { value: data, done: false };
          }
          if (this.#ended) {
            if (this.#error !== undefined) throw new Error(this.#error);
            return { value: undefined, done: true };
          }
          this.#fill();
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        // Stop asking; what the client still sends stays on its socket.
        this.#ended = true;
        this.#queue.length = 0;
        return { value: undefined, done: true };
      },
    };
  }
}
