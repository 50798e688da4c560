/**
 * Inside a plugin's live thread: streamed responses. The route handler runs here; its response's head
 * goes to the host at once, then its body — an async iterable (a generator, a `ReadableStream`, the
 * SDK's `sse()`) — one chunk per credit the host gives (`more`), at most `STREAM_WINDOW` ahead: a
 * client that reads slowly slows the plugin's producer down instead of filling the host's memory.
 * Byte chunks are copied into buffers the thread gives away and moved to the host, which gives them
 * back once written (`live-chunk-buffers.ts`); text goes as it is.
 * @module
 */
import type { PluginRequest } from '../../shared/types.js';
import { BodyReader } from './live-body-reader.js';
import { ChunkBuffers } from './live-chunk-buffers.js';
import { STREAM_WINDOW, type LiveNote, type LiveServing } from './live-protocol.js';

interface ThreadStream {
  credit: number;
  cancelled: boolean;
  wake: (() => void) | undefined;
  iterator: AsyncIterator<unknown> | undefined;
  /** Its streamed request body, when the endpoint reads one. */
  body: BodyReader | undefined;
}

/** A plain body's bytes or text, as a `PluginResponse` body is written (objects as JSON). */
function plainBody(body: unknown): string | ArrayBufferView | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || ArrayBuffer.isView(body)) return body;
  return JSON.stringify(body);
}

function chunkOf(value: unknown): string | ArrayBufferView {
  if (typeof value === 'string' || ArrayBuffer.isView(value)) return value;
  throw new TypeError(`a streamed body yields strings or bytes, got ${typeof value}`);
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/** The streams of one live thread. */
export class ThreadStreams {
  readonly #streams = new Map<number, ThreadStream>();
  /** Buffers byte chunks move to the host in; none where the notes are written to a channel. */
  readonly #buffers: ChunkBuffers | undefined;

  /**
   * @param post sends a note to the host, moving the buffers of `transfer`
   * @param moveBytes whether byte chunks are moved (a thread's port) rather than encoded (a process's
   *   channel, whose host owns what it reads from the pipe)
   */
  constructor(
    readonly post: (note: LiveNote, transfer?: ArrayBuffer[]) => void,
    moveBytes = false,
  ) {
    this.#buffers = moveBytes ? new ChunkBuffers() : undefined;
  }

  /** Chunk `data` of stream `c` to the host: text as it is, bytes moved in a buffer of the thread's. */
  #chunk(c: number, data: string | ArrayBufferView): void {
    if (typeof data === 'string') return this.post({ k: 'chunk', c, d: data });
    if (!this.#buffers) {
      const d = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return this.post({ k: 'chunk', c, d });
    }
    const d = this.#buffers.copy(data);
    this.post({ k: 'chunk', c, d }, [d.buffer as ArrayBuffer]);
  }

  /** Serves `routes[key]` for connection `c`; never rejects (a failure is an `end` with its error). */
  async serve(
    serving: LiveServing | undefined,
    c: number,
    key: string,
    r: PluginRequest,
    bodyStreamed = false,
    /** The request's traceparent and flag values (`tp`, `f`), as a request handler's `ctx` has them. */
    context: { tp?: string; f?: Record<string, boolean> } = {},
  ) {
    const stream: ThreadStream = {
      credit: STREAM_WINDOW,
      cancelled: false,
      wake: undefined,
      iterator: undefined,
      body: bodyStreamed ? new BodyReader(() => this.post({ k: 'pull', c })) : undefined,
    };
    if (stream.body) r.body = stream.body;
    this.#streams.set(c, stream);
    let ctx: ReturnType<LiveServing['context']> | undefined;
    try {
      const handler = serving?.routes[key];
      if (!serving || typeof handler !== 'function')
        throw new Error(`no route handler for "${key}"`);
      if (r.params === undefined) r.params = {};
      if (r.query === undefined) r.query = {};
      ctx = serving.context(r.id, r.userId, context.tp, context.f);
      const res = (await handler(r, ctx)) ?? { statusCode: 204 };
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers ?? {})) headers[name] = String(value);
      this.post({ k: 'head', c, s: res.statusCode, h: headers });
      if (isAsyncIterable(res.body)) await this.#pump(stream, c, res.body);
      else {
        const body = plainBody(res.body);
        if (body !== undefined) this.#chunk(c, body);
      }
      this.post({ k: 'end', c });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      ctx?.log.error(`streamed response failed: ${message}`);
      this.post({ k: 'end', c, e: message });
    } finally {
      this.#streams.delete(c);
    }
  }

  async #pump(stream: ThreadStream, c: number, body: AsyncIterable<unknown>): Promise<void> {
    const iterator = body[Symbol.asyncIterator]();
    stream.iterator = iterator;
    while (!stream.cancelled) {
      while (stream.credit <= 0 && !stream.cancelled) {
        await new Promise<void>((resolve) => (stream.wake = resolve));
      }
      if (stream.cancelled) break;
      const step = await iterator.next();
      if (step.done) return;
      stream.credit--;
      this.#chunk(c, chunkOf(step.value));
    }
    // Not awaited: a body suspended in an await settles its return() only after that await.
    void Promise.resolve(iterator.return?.()).catch(() => {});
  }

  /** A chunk of the request body the host read. */
  body(c: number, data: Uint8Array): void {
    this.#streams.get(c)?.body?.push(data);
  }

  /** The request body ended (`error`: cut by the host). */
  bodyEnd(c: number, error: string | undefined): void {
    this.#streams.get(c)?.body?.end(error);
  }

  /** One more chunk may go; `returned`: buffers of chunks the host has written, to fill again. */
  more(c: number, returned?: readonly unknown[]): void {
    if (returned) this.#buffers?.give(returned);
    const stream = this.#streams.get(c);
    if (!stream) return;
    stream.credit++;
    stream.wake?.();
  }

  /** The host is done with it: the body is returned (its `finally` blocks run). */
  cancel(c: number): void {
    const stream = this.#streams.get(c);
    if (!stream) return;
    stream.cancelled = true;
    stream.body?.end('the request was cancelled');
    stream.wake?.();
    void stream.iterator?.return?.()?.catch?.(() => {});
  }
}
