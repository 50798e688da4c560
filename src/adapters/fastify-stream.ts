/**
 * A streamed `PluginResponse` body as the Fastify adapter sends it: a `Readable`, so Fastify's `onSend`
 * hooks, headers, trailers and request log treat it as any stream reply. When Fastify pipes it straight
 * to its response and that response is Node's own onto a socket, the body writes its chunks itself, each
 * with a callback, and releases each byte chunk once the socket has taken it (ADR 0305), as the
 * `node:http` listener does. Piped anywhere else (a hook's compression stream, a trailer), it is a plain
 * `Readable`: whatever it is piped into may keep its chunks, so none is given back.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { chunkReleaser, type StreamBody } from '../core/live-stream.js';
import { writable, writesToSocket } from './write-stream.js';

type Chunk = string | Uint8Array;

export class FastifyStreamBody extends Readable {
  readonly #iterator: AsyncIterator<Chunk>;
  readonly #res: ServerResponse;
  readonly #release: ((chunk: Chunk) => void) | undefined;

  constructor(body: StreamBody, res: ServerResponse) {
    super({ objectMode: false });
    this.#iterator = body[Symbol.asyncIterator]();
    this.#res = res;
    this.#release = chunkReleaser(body);
  }

  override _read(): void {
    this.#iterator.next().then(
      (step) => void (step.done ? this.push(null) : this.push(step.value)),
      (error: Error) => this.destroy(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The client went away (Fastify destroys its payload then) or the body failed: the plugin's side
    // is cancelled.
    void this.#iterator.return?.();
    callback(error);
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const release = this.#release;
    const straight =
      (destination as unknown) === this.#res && options?.end !== false && writesToSocket(this.#res);
    if (!straight || release === undefined) return super.pipe(destination, options);
    void this.#writeAll(release);
    return destination;
  }

  /** Writes every chunk to the response, releasing each once written; then ends both sides. */
  async #writeAll(release: (chunk: Chunk) => void): Promise<void> {
    const res = this.#res;
    try {
      for (;;) {
        const step = await this.#iterator.next();
        if (step.done || this.destroyed) break;
        const chunk = step.value;
        const taken = res.write(chunk, (error) => {
          if (!error) release(chunk);
        });
        if (!taken) await writable(res);
        if (this.destroyed) return;
      }
    } catch (error) {
      // Cut by the gateway (a deadline, the plugin failed mid-stream): Fastify aborts the response.
      this.destroy(error as Error);
      return;
    }
    if (this.destroyed) return;
    // The body's own end first: Fastify reads the response finishing before its payload ended as a
    // client gone.
    await new Promise<void>((resolve) => {
      this.once('end', resolve);
      this.push(null);
      this.resume();
    });
    res.end();
  }
}
