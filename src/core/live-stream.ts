/**
 * A streamed response on the host: the plugin's handler runs in its live thread, and the response's
 * body is an async iterable the adapter writes as it comes. The host holds at most `STREAM_WINDOW`
 * chunks of `max_chunk_bytes` for one stream: it gives the thread one credit per chunk the adapter took,
 * so a client that reads slowly pauses the plugin. Deadlines: the head within `first_byte_timeout`,
 * each chunk within `idle_timeout` of the last, the whole within `total_timeout`; past one, the
 * stream is cut (the adapter aborts the HTTP response).
 * @module
 */
import { ErrorCodes } from '../errors.js';
import type { LiveData, StreamLink } from '../loader/runtime.js';
import type { Dispatched, RateCheck, RequestTask } from '../mesh/pipeline.js';
import type { PluginInstance, Served } from '../mesh/instances.js';
import { rateLimitHeaders } from '../mesh/rate-limiter.js';
import { parseDuration } from '../shared/duration.js';
import type { GatewayLogger } from '../shared/logger.js';
import { errorResponse } from '../shared/responses.js';
import type { PluginRequest, PluginResponse, StreamSettings } from '../shared/types.js';
import { declaredOver, requestBodySource } from './live-request-body.js';
import { REQUEST_TRACE } from '../shared/trace-context.js';

/** The local instance holding the fewest live connections and streams, among those that serve them. */
export function leastBusy(instances: readonly PluginInstance[]): PluginInstance | undefined {
  let best: PluginInstance | undefined;
  let fewest = Infinity;
  for (const i of instances) {
    if (typeof i.runtime.live !== 'function') continue;
    const n = i.runtime.stats().connections ?? 0;
    if (n < fewest) [best, fewest] = [i, n];
  }
  return best;
}

/** Open streams per instance (its runtime) and endpoint: a plain count, released once per stream. */
const openStreams = new WeakMap<object, Map<string, number>>();

/** Counts one more open stream of `key` on `runtime`; undefined when `cap` are open already. */
function openStream(runtime: object, key: string, cap: number): (() => void) | undefined {
  let counts = openStreams.get(runtime);
  if (!counts) openStreams.set(runtime, (counts = new Map()));
  const open = counts.get(key) ?? 0;
  if (open >= cap) return undefined;
  counts.set(key, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (counts.get(key) ?? 1) - 1;
    if (left <= 0) counts.delete(key);
    else counts.set(key, left);
  };
}

/** A stream's body as the adapters see it: chunks of text or bytes; a cut stream throws. */
export type StreamBody = AsyncIterable<LiveData>;

/**
 * A stream body's method an adapter calls with each byte chunk once the client's socket has taken it
 * (its write callback), when nothing else holds the chunk: its buffer goes back to the plugin's thread
 * with the next credit, to be filled again, instead of waiting for the host's collector
 * (docs/decisions/0305). A consumer that keeps chunks (a caller of `handle()`) never calls it.
 */
export const RELEASE_CHUNK = Symbol('plugin-gateway.release-chunk');

/** The body's {@link RELEASE_CHUNK} method, when it has one. */
export function chunkReleaser(body: StreamBody): ((chunk: LiveData) => void) | undefined {
  const release = (body as { [RELEASE_CHUNK]?: (chunk: LiveData) => void })[RELEASE_CHUNK];
  return typeof release === 'function' ? release.bind(body) : undefined;
}

/** Whether a response body is a stream (what the adapters write chunk by chunk). */
export function isStreamBody(body: unknown): body is StreamBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    !ArrayBuffer.isView(body) &&
    Symbol.asyncIterator in body
  );
}

/**
 * Serves a request to a `stream` endpoint through the plugin's live thread; `ended` is called once,
 * when the stream has ended (the request's log line and metrics are written then).
 */
export async function streamed(
  exchange: {
    plugin: Served;
    target: { key: string };
    request: PluginRequest;
    rate: RateCheck | undefined;
    /** The request's task: its span (a hop is opened for the stream) and its flag values. */
    task?: RequestTask;
  },
  settings: StreamSettings,
  log: GatewayLogger,
  ended: (outcome: Dispatched) => void,
): Promise<Dispatched> {
  const { plugin, request, rate } = exchange;
  const key = exchange.target.key;
  const id = request.id;
  // The endpoint's count of open streams, once this one counts.
  let releaseStream = () => {};
  const finish = (response: PluginResponse): Dispatched => {
    const outcome = { response };
    releaseStream();
    ended(outcome);
    return outcome;
  };
  if (rate) {
    const decision = await rate.limiter.take(rate.scope, rate.caller, rate.rate);
    if (!decision.allowed) {
      const message = `rate limit of ${rate.rate.limit} per ${rate.rate.windowMs / 1000}s reached`;
      return finish(
        errorResponse(ErrorCodes.RATE_LIMITED, message, id, rateLimitHeaders(rate.rate, decision)),
      );
    }
  }
  // A remote plugin's instances forward the stream to the gateway that runs them (peer-stream-client.ts).
  const instance = leastBusy(plugin.instances);
  if (!instance) {
    const message = `no instance of plugin "${plugin.name}" can take a stream of ${key} now`;
    return finish(errorResponse(ErrorCodes.PLUGIN_UNAVAILABLE, message, id));
  }
  const live = instance.runtime.live!();
  const cap = settings.max_connections ?? live.defaultMaxStreams ?? Infinity;
  const release = openStream(instance.runtime, key, cap);
  if (!release) {
    const message = `${key} already holds ${cap} open streams (stream.max_connections)`;
    return finish(errorResponse(ErrorCodes.TOO_MANY_CONNECTIONS, message, id));
  }
  releaseStream = release;
  const maxBody = settings.max_request_bytes;
  const tooLargeMessage = `the body is larger than ${maxBody} bytes (stream.max_request_bytes)`;
  // The client's upload is not read further: the connection ends with the answer.
  const tooLarge = () =>
    errorResponse(ErrorCodes.BODY_TOO_LARGE, tooLargeMessage, id, { connection: 'close' });
  if (settings.request_body && declaredOver(request.headers, maxBody)) return finish(tooLarge());
  return new Promise<Dispatched>((resolve) => {
    // The stream's hop in the request's trace; its traceparent and the flags reach the handler.
    const task = exchange.task;
    const hop = task?.[REQUEST_TRACE]?.hop(instance.id, 0);
    const context = { ...(hop && { tp: hop.traceparent }), ...(task?.f && { f: task.f }) };
    const stream = new HostStream(settings, (error) => {
      if (error) log.warn({ plugin_id: plugin.name, request_id: id, err: error }, 'stream cut');
      hop?.end(error ? { __pgw: 'terminated', message: error } : outcome.response);
      releaseStream();
      ended(outcome);
    });
    let outcome: Dispatched = { response: { statusCode: 500 } };
    const firstByte = setTimeout(() => {
      stream.cut('first_byte_timeout');
      const message = `${key} did not answer within ${settings.first_byte_timeout} (stream.first_byte_timeout)`;
      resolve(finish(errorResponse(ErrorCodes.TIMEOUT, message, id)));
    }, parseDuration(settings.first_byte_timeout)!);
    let overLimit = false;
    const answerTooLarge = () => {
      if (stream.finished || stream.headed) return; // the plugin answered already: its answer goes
      clearTimeout(firstByte);
      stream.cut(tooLargeMessage);
      resolve(finish(tooLarge()));
    };
    const body = settings.request_body
      ? requestBodySource(request.body, maxBody, () => {
          overLimit = true;
          // After the failed read reached the plugin (its loop throws with the reason), not before.
          setImmediate(answerTooLarge);
        })
      : undefined;
    stream.link = live.stream(
      {
        head(statusCode, headers) {
          if (stream.headed) return; // a second head from the thread: ignored
          clearTimeout(firstByte);
          outcome = { response: { statusCode, headers, body: stream } };
          stream.started();
          resolve(outcome);
        },
        chunk: (data) => stream.push(data),
        end(error) {
          if (!stream.headed && overLimit) return answerTooLarge();
          if (!stream.headed) {
            clearTimeout(firstByte);
            const message = `the plugin failed to answer ${key}`;
            stream.cut(error ?? 'ended');
            return resolve(finish(errorResponse(ErrorCodes.PLUGIN_ERROR, message, id)));
          }
          stream.finish(error);
        },
      },
      key,
      request,
      body,
      settings,
      context,
    );
  });
}

/** Released buffers a stream keeps for its next credit: more is more than a window released at once. */
const MAX_RETURNED = 16;

/** The host's end of one stream: a queue of at most the window's chunks, and its deadlines. */
class HostStream implements StreamBody {
  link: StreamLink | undefined;
  headed = false;
  readonly #queue: LiveData[] = [];
  #done = false;
  #error: string | undefined;
  #wake: (() => void) | undefined;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  readonly #settings: StreamSettings;
  readonly #onEnd: (error?: string) => void;
  #reported = false;
  /** Buffers of chunks written and released, for the next credit. */
  #returned: ArrayBuffer[] = [];

  constructor(settings: StreamSettings, onEnd: (error?: string) => void) {
    this.#settings = settings;
    this.#onEnd = onEnd;
  }

  started(): void {
    this.headed = true;
    this.#total = setTimeout(
      () => this.cut('total_timeout'),
      parseDuration(this.#settings.total_timeout)!,
    );
    this.#armIdle();
  }

  #armIdle(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(
      () => this.cut('idle_timeout'),
      parseDuration(this.#settings.idle_timeout)!,
    );
  }

  push(data: LiveData): void {
    if (this.#done) return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > this.#settings.max_chunk_bytes) return this.cut('a chunk over max_chunk_bytes');
    this.#armIdle();
    this.#queue.push(data);
    this.#wake?.();
  }

  /** Ended, cleanly or cut. */
  get finished(): boolean {
    return this.#done;
  }

  finish(error?: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#stop();
  }

  /** Ends the stream from the host's side: the plugin's body is cancelled, the reader gets an error. */
  cut(reason: string): void {
    if (this.#done) return;
    this.link?.cancel();
    this.finish(`stream cut: ${reason}`);
  }

  #stop(): void {
    clearTimeout(this.#idle);
    clearTimeout(this.#total);
    this.#wake?.();
    // A stream that never had its head was answered (and reported) as an error response.
    if (!this.#reported && this.headed) {
      this.#reported = true;
      this.#onEnd(this.#error);
    }
  }

  /**
   * Chunk `data`, taken from this stream, is written and held by nothing: its buffer goes back to the
   * runtime with the next credit. Each buffer once, at most the window's worth waiting.
   */
  [RELEASE_CHUNK](data: LiveData): void {
    if (this.#done || typeof data === 'string') return;
    const { buffer } = data;
    if (Object.prototype.toString.call(buffer) !== '[object ArrayBuffer]') return;
    if (buffer.byteLength === 0 || this.#returned.includes(buffer as ArrayBuffer)) return;
    if (this.#returned.length >= MAX_RETURNED) return;
    this.#returned.push(buffer as ArrayBuffer);
  }

  [Symbol.asyncIterator](): AsyncIterator<LiveData> {
    return {
      next: async (): Promise<IteratorResult<LiveData>> => {
        while (this.#queue.length === 0 && !this.#done) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
        const data = this.#queue.shift();
        if (data !== undefined) {
          if (this.#returned.length === 0) this.link?.more();
          else {
            const returned = this.#returned;
            this.#returned = [];
            this.link?.more(returned);
          }
          return { value: data, done: false };
        }
        if (this.#error !== undefined) throw new Error(this.#error);
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<LiveData>> => {
        this.cut('the client went away');
        return { value: undefined, done: true };
      },
    };
  }
}
