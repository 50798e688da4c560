/**
 * On the host: a streamed request body handed to a live thread chunk by chunk, each read from the
 * client only when the thread asks (`pull`), so the host holds at most one chunk of it at a time and a
 * thread that does not read leaves the rest on the client's socket (TCP backpressure). Each chunk's
 * memory moves to the thread (the host keeps no reference to it). The source is never returned:
 * ending it would destroy the socket the response still goes out on.
 * @module
 */
import type { RequestBodySource } from '../runtime.js';
import { BODY_WINDOW, type LiveFrame } from './live-protocol.js';

export class BodyPump {
  readonly #source: RequestBodySource;
  readonly #post: (frame: LiveFrame, transfer?: ArrayBuffer[]) => void;
  readonly #c: number;
  #wanted = 0;
  #reading = false;
  #done = false;

  constructor(
    source: RequestBodySource,
    c: number,
    post: (frame: LiveFrame, transfer?: ArrayBuffer[]) => void,
  ) {
    this.#source = source;
    this.#c = c;
    this.#post = post;
  }

  /** The thread asks for one more chunk (never more than the window ahead). */
  pull(): void {
    if (this.#done) return;
    this.#wanted = Math.min(BODY_WINDOW, this.#wanted + 1);
    void this.#read();
  }

  /** The exchange ended: nothing more is read. */
  stop(): void {
    this.#done = true;
  }

  async #read(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    const c = this.#c;
    try {
      while (this.#wanted > 0 && !this.#done) {
        const step = await this.#source.next();
        if (this.#done) return;
        if (step.done) {
          this.#done = true;
          return this.#post({ k: 'bodyend', c });
        }
        this.#wanted--;
        // The source's chunks are the host's alone (core/live-request-body.ts): moved, not copied.
        const d = step.value;
        this.#post({ k: 'body', c, d }, [d.buffer as ArrayBuffer]);
      }
    } catch (error) {
      if (this.#done) return;
      this.#done = true;
      this.#post({ k: 'bodyend', c, e: (error as Error).message ?? String(error) });
    } finally {
      this.#reading = false;
    }
  }
}
