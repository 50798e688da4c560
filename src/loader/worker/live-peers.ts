/**
 * A live thread's WebSocket connections, on the host, and where each stands with the plugin's
 * handlers: every event handed over (open, each message, the close) is acknowledged once, in order,
 * by a `done`. A message handler may settle after the close was told; only the last `done` is the
 * close handler's, and it ends the connection on the plugin's side. Once told of the close, the
 * plugin may still publish (its `close` handler saying goodbye), but its notes may no longer put the
 * connection in a topic: it left them all when the client went.
 * @module
 */
import type { LivePeer } from '../runtime.js';
import type { LiveNote } from './live-protocol.js';

/** The notes of a connection (not of a stream). */
export type PeerNote = Extract<
  LiveNote,
  { k: 'send' | 'close' | 'sub' | 'unsub' | 'pub' | 'done' }
>;

interface Entry {
  peer: LivePeer;
  /** Told of the close; its `close` handler has not settled. */
  closing: boolean;
  /** Events handed over and not yet acknowledged. */
  unacked: number;
}

export class LivePeers {
  readonly #entries = new Map<number, Entry>();
  #closing = 0;

  /** Connections held, the closing ones included (their handlers still run). */
  get size(): number {
    return this.#entries.size;
  }

  /** Open connections: those whose close the plugin was told of are no longer counted. */
  get open(): number {
    return this.#entries.size - this.#closing;
  }

  /** Connection `c` opens (its `open` event is handed over). */
  add(c: number, peer: LivePeer): void {
    this.#entries.set(c, { peer, closing: false, unacked: 1 });
  }

  /** Whether a client's message may be handed to connection `c` (counted when it may). */
  message(c: number): boolean {
    const entry = this.#entries.get(c);
    if (!entry || entry.closing) return false;
    entry.unacked++;
    return true;
  }

  /** Whether the plugin should be told that `c` closed (once; counted when it should). */
  close(c: number): boolean {
    const entry = this.#entries.get(c);
    if (!entry || entry.closing) return false;
    entry.closing = true;
    entry.unacked++;
    this.#closing++;
    return true;
  }

  /**
   * Acts on one note of the plugin's; returns true when it was the close handler's `done`: the
   * connection is gone. A number the host does not hold (closed meanwhile, or never opened) is ignored.
   */
  onNote(note: PeerNote): boolean {
    const entry = this.#entries.get(note.c);
    if (!entry) return false;
    const { peer } = entry;
    switch (note.k) {
      case 'send':
        peer.send(note.d);
        return false;
      case 'close':
        peer.close(note.code, note.reason);
        return false;
      case 'sub':
        if (!entry.closing) peer.subscribe(note.t);
        return false;
      case 'unsub':
        peer.unsubscribe(note.t);
        return false;
      case 'pub':
        peer.publish(note.t, note.d);
        return false;
      case 'done':
        if (entry.unacked === 0) return false;
        entry.unacked--;
        if (!entry.closing || entry.unacked > 0) {
          peer.handled();
          return false;
        }
        this.#entries.delete(note.c);
        this.#closing--;
        return true;
    }
  }

  /** Takes every connection out (those the plugin was not told closed, with their numbers). */
  takeAll(): { open: [number, LivePeer][]; all: LivePeer[] } {
    const open: [number, LivePeer][] = [];
    const all: LivePeer[] = [];
    for (const [c, entry] of this.#entries) {
      all.push(entry.peer);
      if (!entry.closing) open.push([c, entry.peer]);
    }
    this.#entries.clear();
    this.#closing = 0;
    return { open, all };
  }

  /** The connections the plugin was not told closed. */
  openPeers(): LivePeer[] {
    const open: LivePeer[] = [];
    for (const entry of this.#entries.values()) if (!entry.closing) open.push(entry.peer);
    return open;
  }
}
