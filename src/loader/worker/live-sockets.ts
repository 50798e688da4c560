/**
 * The plugin's side of its WebSocket connections, wherever its harness runs (a worker's live thread,
 * or a `process` plugin's harness): each connection the host opened is a `PluginWebSocket` handed to
 * the plugin's `websockets` handlers. A connection's handlers run one after another; each settled open
 * or message is acknowledged (`done`), which is what lets the host read the next message from that
 * client (its inbound backpressure). The frames come and go through whatever carries them.
 * @module
 */
import type {
  PluginContext,
  PluginWebSocket,
  WebSocketHandlers,
} from '../../shared/plugin-definition.js';
import type { PluginRequest } from '../../shared/types.js';
import {
  isPluginCloseCode,
  MAX_REASON_BYTES,
  MAX_TOPIC_CHARS,
  type LiveData,
  type LiveFrame,
  type LiveNote,
  type LiveServing,
} from './live-protocol.js';

/** Most topics one connection may hold (the host holds a set per connection). */
const MAX_TOPICS = 256;

/** The connection frames: opened, a client's message, closed. */
export type SocketFrame = Extract<LiveFrame, { k: 'open' | 'msg' | 'closed' }>;

class HarnessSocket implements PluginWebSocket {
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

export class HarnessSockets {
  readonly #sockets = new Map<number, HarnessSocket>();
  readonly #post: (note: LiveNote) => void;
  /** Runs before each handler (a live thread reads its flag cells into `ctx.flags`). */
  readonly #beforeHandler: () => void;

  constructor(post: (note: LiveNote) => void, beforeHandler: () => void = () => {}) {
    this.#post = post;
    this.#beforeHandler = beforeHandler;
  }

  /** One connection frame, with the plugin once started (`undefined`: it failed to start). */
  handle(serving: LiveServing | undefined, frame: SocketFrame): void {
    if (frame.k === 'open') return this.#open(serving, frame);
    const socket = this.#sockets.get(frame.c);
    if (!socket) return;
    if (frame.k === 'msg') {
      this.#chain(socket, () => socket.handlers.message?.(socket, frame.d, socket.ctx));
      return;
    }
    this.#sockets.delete(frame.c);
    this.#chain(socket, () => {
      socket.readyState = 'closed';
      return socket.handlers.close?.(socket, frame.code, frame.reason, socket.ctx);
    });
  }

  #open(serving: LiveServing | undefined, frame: Extract<LiveFrame, { k: 'open' }>): void {
    if (!serving) {
      this.#post({ k: 'close', c: frame.c, code: 1011, reason: 'plugin failed to start' });
      return;
    }
    const handlers = serving.websockets[frame.key];
    const r = frame.r;
    if (r.params === undefined) r.params = {};
    if (r.query === undefined) r.query = {};
    const ctx = serving.context(r.id, r.userId, frame.tp, frame.f);
    if (!handlers) {
      ctx.log.error(`no websockets handler for "${frame.key}"`);
      this.#post({ k: 'close', c: frame.c, code: 1011, reason: 'no handler' });
      return;
    }
    const socket = new HarnessSocket(frame.c, r, handlers, ctx, this.#post);
    this.#sockets.set(frame.c, socket);
    this.#chain(socket, () => handlers.open?.(socket, ctx));
  }

  /** Runs one handler of `socket` after the ones before it; a throw closes the connection 1011. */
  #chain(socket: HarnessSocket, run: () => unknown): void {
    socket.queue = socket.queue
      .then(async () => {
        this.#beforeHandler();
        await run();
      })
      .catch((error: unknown) => {
        socket.ctx.log.error(`websocket handler threw: ${describe(error)}`, {
          connection: socket.id,
        });
        if (socket.readyState === 'open') {
          socket.readyState = 'closing';
          this.#post({ k: 'close', c: socket.c, code: 1011, reason: 'plugin error' });
        }
      })
      .finally(() => this.#post({ k: 'done', c: socket.c }));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
