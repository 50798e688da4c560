/**
 * The live channel of a `process` plugin: streamed responses (and streamed request bodies) here, and
 * WebSockets (`process-sockets.ts`): the live thread's frames (`worker/live-protocol.ts`) carried on the
 * plugin's channel as `{ ctl: 'live', f }` and `{ pgw: 'live', n }` (docs/plugin-protocol.md, "Streams"
 * and "WebSockets"). The same credit as in a thread: the host starts each stream with `STREAM_WINDOW`
 * chunks and gives one back per chunk the adapter took; a process that sends past its credit has the
 * stream ended and the breach counted.
 * @module
 */
import type {
  LiveChannel,
  LiveLink,
  LivePeer,
  RequestBodySource,
  StreamContext,
  StreamLink,
  StreamSink,
} from '../runtime.js';
import type { PluginRequest, StreamSettings, WebSocketSettings } from '../../shared/types.js';
import { isSocketNote, ProcessSockets } from './process-sockets.js';
import { BodyPump } from '../worker/live-body-pump.js';
import { STREAM_WINDOW, type LiveFrame, type LiveNote } from '../worker/live-protocol.js';

/** What the streams need of the runtime, for one process. */
export interface StreamHost<C> {
  /** The process streams go to now (started when there is none). */
  child(): C;
  /** Whether the process said hello (frames sent before would reach it before its `start`). */
  ready(child: C): boolean;
  send(child: C, frame: LiveFrame): void;
  /**
   * Sends a client's message (paced by the host, never a reason to end the process); true when the
   * channel now holds too much unread. `drained(child)` follows once the process has read it all.
   */
  deliver(child: C, frame: LiveFrame): boolean;
  closing(): boolean;
  violation(reason: string): void;
  /** A stream or connection ended: the process may be idle now. */
  idle(): void;
}

interface Entry<C> {
  child: C;
  sink: StreamSink;
  ahead: number;
  body: BodyPump | undefined;
}

export class ProcessStreams<C> implements LiveChannel {
  readonly #host: StreamHost<C>;
  readonly #streams = new Map<number, Entry<C>>();
  /** Frames for processes that have not said hello yet. */
  readonly #waiting = new Map<C, LiveFrame[]>();
  readonly #sockets: ProcessSockets<C>;
  /** Numbers streams and connections alike: a note names one or the other, never both. */
  #next = 0;

  constructor(host: StreamHost<C>) {
    this.#host = host;
    this.#sockets = new ProcessSockets<C>({
      post: (child, frame) => this.#post(child, frame),
      deliver: (child, frame) => this.#deliver(child, frame),
      violation: (reason) => host.violation(reason),
      idle: () => host.idle(),
    });
  }

  /** Streams and WebSockets open now. */
  get connections(): number {
    return this.#streams.size + this.#sockets.connections;
  }

  /** Whether `child` holds a stream or a connection (it is not idle). */
  holds(child: C): boolean {
    for (const entry of this.#streams.values()) if (entry.child === child) return true;
    return this.#sockets.holds(child);
  }

  /** Hands a new WebSocket to the plugin's `websockets[key]` handlers, in its process. */
  open(
    peer: LivePeer,
    key: string,
    request: PluginRequest,
    _settings?: WebSocketSettings,
    context: StreamContext = {},
  ): LiveLink {
    if (this.#host.closing()) {
      queueMicrotask(() => peer.close(1001, 'plugin stopping'));
      return { message() {}, closed() {} };
    }
    const { tp, f } = context;
    const withContext = { ...(tp && { tp }), ...(f && { f }) };
    return this.#sockets.open(this.#host.child(), ++this.#next, peer, key, request, withContext);
  }

  stream(
    sink: StreamSink,
    key: string,
    request: PluginRequest,
    body?: RequestBodySource,
    _settings?: StreamSettings,
    context: StreamContext = {},
  ): StreamLink {
    if (this.#host.closing()) {
      queueMicrotask(() => sink.end('plugin stopping'));
      return { more() {}, cancel() {} };
    }
    const child = this.#host.child();
    const c = ++this.#next;
    const post = (frame: LiveFrame) => this.#post(child, frame);
    const pump = body && new BodyPump(body, c, post);
    const entry: Entry<C> = { child, sink, ahead: 0, body: pump };
    this.#streams.set(c, entry);
    // A native plugin's handler gets the request's trace context and flags, as a task's would.
    const { tp, f } = context;
    const withContext = { ...(tp && { tp }), ...(f && { f }) };
    if (pump)
      post({ k: 'req', c, key, r: { ...request, body: undefined }, b: true, ...withContext });
    else post({ k: 'req', c, key, r: request, ...withContext });
    return {
      more: () => {
        if (!this.#streams.has(c)) return;
        entry.ahead = Math.max(0, entry.ahead - 1);
        post({ k: 'more', c });
      },
      cancel: () => {
        pump?.stop();
        if (!this.#streams.delete(c)) return;
        post({ k: 'cancel', c });
        this.#host.idle();
      },
    };
  }

  #post(child: C, frame: LiveFrame): void {
    if (this.#host.ready(child)) return this.#host.send(child, frame);
    const queue = this.#waiting.get(child);
    if (queue) queue.push(frame);
    else this.#waiting.set(child, [frame]);
  }

  /**
   * A client's message: sent at once to a process that said hello, else queued for it, and its
   * clients held until it does (the queue is the host's memory).
   */
  #deliver(child: C, frame: LiveFrame): boolean {
    if (this.#host.ready(child)) return this.#host.deliver(child, frame);
    this.#post(child, frame);
    return true;
  }

  /** The process said hello: what waited for it goes. */
  ready(child: C): void {
    const queue = this.#waiting.get(child);
    this.#waiting.delete(child);
    let full = false;
    for (const frame of queue ?? []) {
      if (frame.k === 'msg') full = this.#host.deliver(child, frame) || full;
      else this.#host.send(child, frame);
    }
    // Still full: the channel's drain releases the clients; else they are read again now.
    if (full) this.#sockets.hold(child);
    else this.#sockets.drained(child);
  }

  /** The channel of `child` was read to the end: its clients are read again. */
  drained(child: C): void {
    this.#sockets.drained(child);
  }

  /** A checked live note from `child`: a connection's, or a stream's (`head`, `chunk`, `end`, `pull`). */
  onNote(child: C, note: LiveNote): void {
    if (isSocketNote(note)) return this.#sockets.onNote(child, note);
    const entry = this.#streams.get(note.c);
    // A stream the host ended meanwhile, or another process's: nothing to act on.
    if (!entry || entry.child !== child) return;
    switch (note.k) {
      case 'head':
        return entry.sink.head(note.s, note.h);
      case 'pull':
        return entry.body?.pull();
      case 'end':
        this.#streams.delete(note.c);
        entry.body?.stop();
        entry.sink.end(note.e);
        return this.#host.idle();
      case 'chunk':
        if (++entry.ahead > STREAM_WINDOW) {
          this.#host.violation('a stream sent chunks beyond its credit');
          this.#streams.delete(note.c);
          entry.body?.stop();
          this.#post(child, { k: 'cancel', c: note.c });
          entry.sink.end('the plugin sent beyond its credit');
          return this.#host.idle();
        }
        return entry.sink.chunk(note.d);
    }
  }

  /**
   * The process ended: its streams end with `reason`, its connections close 1011 (1001 when the
   * plugin is stopping).
   */
  ended(child: C, reason: string): void {
    this.#waiting.delete(child);
    if (this.#host.closing()) this.#sockets.ended(child, 1001, 'plugin stopping');
    else this.#sockets.ended(child, 1011, 'plugin process ended');
    for (const [c, entry] of this.#streams) {
      if (entry.child !== child) continue;
      this.#streams.delete(c);
      entry.body?.stop();
      entry.sink.end(reason);
    }
  }

  /**
   * Closes every connection with `code` (the process is told first: its `close` handlers run before
   * a `stop` sent after) and ends every stream (`reason` to the reader), telling the process.
   */
  closeAll(code: number, reason: string): void {
    this.#sockets.closeAll(code, reason);
    for (const [c, entry] of [...this.#streams]) {
      this.#streams.delete(c);
      entry.body?.stop();
      entry.sink.end(reason);
      this.#post(entry.child, { k: 'cancel', c });
    }
  }
}
