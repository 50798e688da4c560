/**
 * `sse(events)`: a Server-Sent Events response for a `stream` endpoint. Each event becomes an
 * `id:`/`event:`/`retry:`/`data:` frame (data split on its lines, objects as JSON), and a comment
 * heartbeat goes out when the plugin has been silent for `heartbeatMs`, so proxies and the endpoint's
 * `idle_timeout` see the stream alive. A client that reconnects sends `Last-Event-ID`: read it from
 * `req.headers['last-event-id']` and resume after it.
 * @module
 */
import type { PluginResponse } from './types.js';

/** One Server-Sent Event. */
export interface ServerSentEvent {
  /** The event's data: text (split into `data:` lines), or any value written as JSON. */
  data: unknown;
  /** Its type, for `EventSource.addEventListener(type)`; absent: `message`. */
  event?: string;
  /** Its id: the client's `Last-Event-ID` when it reconnects. */
  id?: string | number;
  /** How long the client waits before reconnecting, in ms. */
  retry?: number;
}

/** Options of {@link sse}. */
export interface SseOptions {
  /** A comment line after this many ms without an event. @default 15000 */
  heartbeatMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** A field's value on one line: a line break would start another field. */
const oneLine = (v: string | number) => String(v).replace(/[\r\n]/g, ' ');

/** The frame of one event. */
export function sseFrame(e: ServerSentEvent | string): string {
  const event = typeof e === 'string' ? { data: e } : e;
  let frame = '';
  if (event.id !== undefined) frame += `id: ${oneLine(event.id)}\n`;
  if (event.event !== undefined) frame += `event: ${oneLine(event.event)}\n`;
  if (event.retry !== undefined) frame += `retry: ${Math.max(0, Math.floor(event.retry))}\n`;
  const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
  for (const line of String(data).split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/**
 * A `text/event-stream` response whose body is `events`, framed, with heartbeats.
 * @example
 * 'GET /scores/stream': (req) =>
 *   sse((async function* () {
 *     for await (const score of scores()) yield { event: 'score', id: score.seq, data: score };
 *   })()),
 */
export function sse(
  events: AsyncIterable<ServerSentEvent | string>,
  options: SseOptions = {},
): PluginResponse {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      ...options.headers,
    },
    body: framed(events, heartbeatMs),
  };
}

async function* framed(
  events: AsyncIterable<ServerSentEvent | string>,
  heartbeatMs: number,
): AsyncGenerator<string> {
  const iterator = events[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<ServerSentEvent | string>> | undefined;
  try {
    for (;;) {
      pending ??= iterator.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const beat = new Promise<'beat'>((r) => (timer = setTimeout(r, heartbeatMs, 'beat')));
      const step = await Promise.race([pending, beat]);
      clearTimeout(timer);
      if (step === 'beat') {
        yield ': heartbeat\n\n';
        continue;
      }
      pending = undefined;
      if (step.done) return;
      yield sseFrame(step.value);
    }
  } finally {
    // Not awaited: a source suspended in an await settles its return() only after that await.
    void Promise.resolve(iterator.return?.()).catch(() => {});
  }
}
