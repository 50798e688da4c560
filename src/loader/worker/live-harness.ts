/**
 * Inside a plugin's live thread: the WebSocket connections the host opened on the thread's live port,
 * each a `PluginWebSocket` handed to the plugin's `websockets` handlers. A connection's handlers run one
 * after another; each settled open or message is acknowledged (`done`), which is what lets the host
 * read the next message from that client (its inbound backpressure).
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import type {
  PluginContext,
  PluginWebSocket,
  WebSocketHandlers,
} from '../../shared/plugin-definition.js';
import type { PluginRequest } from '../../shared/types.js';
import type { PluginHost } from '../harness/plugin-host.js';
import {
  isPluginCloseCode,
  MAX_REASON_BYTES,
  MAX_TOPIC_CHARS,
  type LiveData,
  type LiveFrame,
  type LiveNote,
  type LiveServing,
} from './live-protocol.js';
import { ThreadStreams } from './live-stream-harness.js';

/** Most topics one connection may hold (the host holds a set per connection). */
const MAX_TOPICS = 256;

class ThreadSocket implements PluginWebSocket {
  data: Record<string, unknown> = {};
  readyState: 'open' | 'closing' | 'closed' = 'open';
  readonly #topics = new Set<string>();
  /** The handler chain: each event waits for the previous handler to settle. */
  queue: Promise<void> = Promise.resolve();
  constructor(
    readonly c: number,
    readonly request: PluginRequest,
    readonly handlers: WebSocketHandlers,
    readonly ctx: PluginContext,
    readonly post: (note: LiveNote) => void,
  ) {}
  get id(): string {
    return this.request.id;
  }
  get topics(): readonly string[] {
    return [...this.#topics];
  }
  send(message: LiveData): void {
    const d = payload(message, 'send');
    if (this.readyState === 'open') this.post({ k: 'send', c: this.c, d });
  }
  close(code = 1000, reason = ''): void {
    if (!isPluginCloseCode(code))
      throw new RangeError(`close(): code must be 1000 or 3000-4999, got ${code}`);
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > MAX_REASON_BYTES)
      throw new RangeError(`close(): reason must be a string of at most ${MAX_REASON_BYTES} bytes`);
    if (this.readyState !== 'open') return;
    this.readyState = 'closing';
    this.post({ k: 'close', c: this.c, code, reason });
  }
  subscribe(topic: string): void {
    checkTopic(topic);
    if (this.#topics.has(topic)) return;
    if (this.#topics.size >= MAX_TOPICS)
      throw new RangeError(`subscribe(): a connection holds at most ${MAX_TOPICS} topics`);
    this.#topics.add(topic);
    this.post({ k: 'sub', c: this.c, t: topic });
  }
  unsubscribe(topic: string): void {
    if (this.#topics.delete(topic)) this.post({ k: 'unsub', c: this.c, t: topic });
  }
  isSubscribed(topic: string): boolean {
    return this.#topics.has(topic);
  }
  publish(topic: string, message: LiveData): void {
    checkTopic(topic);
    this.post({ k: 'pub', c: this.c, t: topic, d: payload(message, 'publish') });
  }
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_CHARS)
    throw new TypeError(`a topic is a string of 1 to ${MAX_TOPIC_CHARS} characters`);
}

/** Text as it is; bytes (any view, or an ArrayBuffer) as a Uint8Array. */
function payload(message: unknown, what: string): LiveData {
  if (typeof message === 'string') return message;
  if (ArrayBuffer.isView(message))
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  throw new TypeError(`${what}() takes a string or bytes, got ${typeof message}`);
}

/**
 * Serves the live frames arriving on `port` with the plugin `host` runs in this thread.
 * @param refreshFlags reads the host's flag cells into the plugin's `ctx.flags` (as a task does)
 */
export function serveLive(port: MessagePort, host: PluginHost, refreshFlags: () => void): void {
  const sockets = new Map<number, ThreadSocket>();
  const post = (note: LiveNote) => port.postMessage(note);
  let serving: LiveServing | undefined | null = null;
  const ready = host.live().then((s) => void (serving = s));

  /** Runs one handler of `socket` after the ones before it; a throw closes the connection 1011. */
  function chain(socket: ThreadSocket, run: () => unknown, ack: boolean): void {
    socket.queue = socket.queue
      .then(async () => {
        refreshFlags();
        await run();
      })
      .catch((error: unknown) => {
        socket.ctx.log.error(`websocket handler threw: ${describe(error)}`, {
          connection: socket.id,
        });
        if (socket.readyState === 'open') {
          socket.readyState = 'closing';
          post({ k: 'close', c: socket.c, code: 1011, reason: 'plugin error' });
        }
      })
      .finally(() => ack && post({ k: 'done', c: socket.c }));
  }

  function open(frame: Extract<LiveFrame, { k: 'open' }>): void {
    if (!serving) {
      post({ k: 'close', c: frame.c, code: 1011, reason: 'plugin failed to start' });
      return;
    }
    const handlers = serving.websockets[frame.key];
    const r = frame.r;
    if (r.params === undefined) r.params = {};
    if (r.query === undefined) r.query = {};
    const ctx = serving.context(r.id, r.userId);
    if (!handlers) {
      ctx.log.error(`no websockets handler for "${frame.key}"`);
      post({ k: 'close', c: frame.c, code: 1011, reason: 'no handler' });
      return;
    }
    const socket = new ThreadSocket(frame.c, r, handlers, ctx, post);
    sockets.set(frame.c, socket);
    chain(socket, () => handlers.open?.(socket, ctx), true);
  }

  // Every frame waits for the plugin to start; `then` callbacks keep the frames' order.
  port.on('message', (frame: LiveFrame) => void ready.then(() => handle(frame)));

  const streams = new ThreadStreams(post);

  function handle(frame: LiveFrame): void {
    if (frame.k === 'open') return open(frame);
    if (frame.k === 'req')
      return void streams.serve(serving ?? undefined, frame.c, frame.key, frame.r, frame.b);
    if (frame.k === 'more') return streams.more(frame.c);
    if (frame.k === 'body') return streams.body(frame.c, frame.d);
    if (frame.k === 'bodyend') return streams.bodyEnd(frame.c, frame.e);
    if (frame.k === 'cancel') return streams.cancel(frame.c);
    const socket = sockets.get(frame.c);
    if (!socket) return;
    if (frame.k === 'msg') {
      chain(socket, () => socket.handlers.message?.(socket, frame.d, socket.ctx), true);
    } else {
      sockets.delete(frame.c);
      chain(
        socket,
        () => {
          socket.readyState = 'closed';
          return socket.handlers.close?.(socket, frame.code, frame.reason, socket.ctx);
        },
        true,
      );
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
