/**
 * The WebSocket connections of a `process` plugin, on the host: the live thread's connection frames
 * (`worker/live-protocol.ts`) carried on the plugin's channel. Each connection belongs to the process
 * it was opened on; a note naming a number the host did not open on that process (or whose close
 * handler already settled) is refused and counted, never acted on. The limits are the connection's own
 * (`core/live-connection.ts`): what the process sends goes to a bounded buffer per client, and it is
 * handed at most `MAX_PENDING` messages it has not acknowledged (`done`).
 * @module
 */
import type { LiveLink, LivePeer } from '../runtime.js';
import type { PluginRequest } from '../../shared/types.js';
import type { LiveFrame, LiveNote } from '../worker/live-protocol.js';

/** The notes of a connection (not of a stream). */
export type SocketNote = Extract<
  LiveNote,
  { k: 'send' | 'close' | 'sub' | 'unsub' | 'pub' | 'done' }
>;

const SOCKET_NOTES = new Set(['send', 'close', 'sub', 'unsub', 'pub', 'done']);

/** Whether a live note is a connection's (else a stream's). */
export const isSocketNote = (note: LiveNote): note is SocketNote => SOCKET_NOTES.has(note.k);

interface Connection<C> {
  child: C;
  peer: LivePeer;
  /** The process was told of the close; its `close` handler has not settled (it may still publish). */
  closing: boolean;
  /** Events handed to the process (open, each message, the close) it has not acknowledged (`done`). */
  unacked: number;
}

/** What the connections need of their runtime. */
export interface SocketHost<C> {
  post(child: C, frame: LiveFrame): void;
  /**
   * Hands a client's message to `child`; true when its channel now holds too much unread: the
   * clients of `child` are held until `drained(child)`.
   */
  deliver(child: C, frame: LiveFrame): boolean;
  violation(reason: string): void;
  /** A connection is gone: the process may be idle now. */
  idle(): void;
}

export class ProcessSockets<C> {
  readonly #host: SocketHost<C>;
  readonly #connections = new Map<number, Connection<C>>();
  /** Processes whose channel is full: their clients are not read until it drains. */
  readonly #held = new Set<C>();
  #closing = 0;

  constructor(host: SocketHost<C>) {
    this.#host = host;
  }

  /** Open connections (those whose close the process was told of are no longer counted). */
  get connections(): number {
    return this.#connections.size - this.#closing;
  }

  holds(child: C): boolean {
    for (const entry of this.#connections.values()) if (entry.child === child) return true;
    return false;
  }

  /** Opens connection `c` on `child`: its handlers' `open`, then every message until it closes. */
  open(
    child: C,
    c: number,
    peer: LivePeer,
    key: string,
    request: PluginRequest,
    /** The upgrade's traceparent and flag values, for the handlers' `ctx`. */
    context: { tp?: string; f?: Record<string, boolean> } = {},
  ): LiveLink {
    const entry: Connection<C> = { child, peer, closing: false, unacked: 1 };
    this.#connections.set(c, entry);
    if (this.#held.has(child)) peer.hold(true);
    this.#host.post(child, { k: 'open', c, key, r: request, ...context });
    return {
      message: (d) => {
        if (this.#connections.get(c) !== entry || entry.closing) return;
        entry.unacked++;
        if (this.#host.deliver(child, { k: 'msg', c, d })) this.hold(child);
      },
      closed: (code, reason) => this.#tell(c, entry, code, reason),
    };
  }

  /** Tells the process that connection `c` closed; its `close` handler runs, then `done` ends it. */
  #tell(c: number, entry: Connection<C>, code: number, reason: string): void {
    if (this.#connections.get(c) !== entry || entry.closing) return;
    entry.closing = true;
    entry.unacked++;
    this.#closing++;
    this.#host.post(entry.child, { k: 'closed', c, code, reason });
  }

  /** A checked connection note from `child`. */
  onNote(child: C, note: SocketNote): void {
    const entry = this.#connections.get(note.c);
    if (!entry || entry.child !== child) {
      return this.#host.violation(
        `a websocket ${note.k} for connection ${note.c}, which is not this process's`,
      );
    }
    const { peer } = entry;
    switch (note.k) {
      case 'send':
        return peer.send(note.d);
      case 'close':
        return peer.close(note.code, note.reason);
      case 'sub':
        // Told of the close, the process may still run handlers that subscribe: the topic table
        // must not take back a connection that left it.
        if (entry.closing) return;
        return peer.subscribe(note.t);
      case 'unsub':
        return peer.unsubscribe(note.t);
      case 'pub':
        return peer.publish(note.t, note.d);
      case 'done':
        // One `done` per event handed over, in order: a message handler may settle after the close
        // was told, and only the last `done` is the close handler's.
        if (entry.unacked === 0) return;
        entry.unacked--;
        if (!entry.closing || entry.unacked > 0) return peer.handled();
        // The close handler settled: the connection is gone from the plugin's side too.
        this.#forget(note.c);
        return this.#host.idle();
    }
  }

  #forget(c: number): void {
    const entry = this.#connections.get(c);
    if (!entry) return;
    this.#connections.delete(c);
    if (entry.closing) this.#closing--;
  }

  /** The process ended: its connections close with `code` (1011 unexpected, 1001 stopping). */
  ended(child: C, code: number, reason: string): void {
    this.#held.delete(child);
    for (const [c, entry] of [...this.#connections]) {
      if (entry.child !== child) continue;
      this.#forget(c);
      entry.peer.close(code, reason);
    }
  }

  /** The channel of `child` holds too much unread: none of its clients is read until it drains. */
  hold(child: C): void {
    if (this.#held.has(child)) return;
    this.#held.add(child);
    for (const entry of this.#connections.values())
      if (entry.child === child) entry.peer.hold(true);
  }

  /** The channel of `child` was read to the end: its clients are read again. */
  drained(child: C): void {
    if (!this.#held.delete(child)) return;
    for (const entry of this.#connections.values())
      if (entry.child === child) entry.peer.hold(false);
  }

  /**
   * Closes every connection with `code`: the client is told, and so is the process at once (its
   * `close` handlers run before anything sent after, a `stop` included).
   */
  closeAll(code: number, reason: string): void {
    for (const [c, entry] of [...this.#connections]) {
      if (entry.closing) continue;
      this.#tell(c, entry, code, reason);
      entry.peer.close(code, reason);
    }
  }
}
