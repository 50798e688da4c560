/**
 * One WebSocket between a client and a plugin, on the host: the `ws` socket on one side, the plugin's
 * live thread on the other (`LiveLink`/`LivePeer`), and the limits in between — message rate, idle
 * timeout with pings, and bounded buffers both ways. The host holds at most `max_buffered_bytes` the
 * client has not read (then 1013), and hands the thread at most `MAX_PENDING` messages it has not
 * handled (then it stops reading the client's socket until the plugin catches up).
 * @module
 */
import type { WebSocket, RawData } from 'ws';
import type { LiveData, LiveLink, LivePeer } from '../loader/runtime.js';
import { gcra } from '../mesh/gcra.js';
import type { Rate } from '../shared/duration.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { WebSocketSettings } from '../shared/types.js';
import type { TopicTable } from './live-topics.js';

/** Messages handed to the plugin and not yet handled, past which the client's socket is not read. */
export const MAX_PENDING = 64;
/** A closing connection whose client does not answer the close within this is ended. */
export const CLOSE_GRACE_MS = 2000;

/** What a connection needs to know of where it runs. */
export interface ConnectionSetup {
  id: string;
  plugin: string;
  version: string;
  path: string;
  userId: unknown;
  settings: WebSocketSettings;
  idleMs: number;
  rate: Rate | undefined;
  topics: TopicTable;
  log: GatewayLogger;
  /** The connection ended (after its close line was written). */
  ended(): void;
}

export class LiveConnection implements LivePeer {
  readonly #ws: WebSocket;
  readonly #setup: ConnectionSetup;
  #link: LiveLink | undefined;
  readonly #opened = performance.now();
  #lastSeen = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #tat: number | undefined;
  #pending = 0;
  /** `MAX_PENDING` messages wait on the plugin: this client is not read until half are handled. */
  #creditOut = false;
  /** The runtime's way to the plugin is full (`hold()`): no client of it is read. */
  #held = false;
  #reading = true;
  #in = 0;
  #out = 0;
  /** The most bytes the host held for this client at once (the close line reports it). */
  #maxBuffered = 0;
  /** The code the gateway closed with (the close line reports it, whatever the client answers). */
  #closedWith: { code: number; reason: string } | undefined;
  /** The socket closed and left its topics: nothing may subscribe it again (it would stay for good). */
  #gone = false;

  constructor(ws: WebSocket, setup: ConnectionSetup) {
    this.#ws = ws;
    this.#setup = setup;
    ws.on('message', this.#onMessage);
    ws.on('pong', () => (this.#lastSeen = Date.now()));
    ws.once('close', (code: number, reason: Buffer) => this.#onClose(code, reason.toString()));
    // `ws` closes the socket after an error (a frame too large: 1009); the close event follows once the
    // client ends its side. One that holds it open is ended after the grace, as after a close of ours
    // (`ws` would wait 30 s, the connection counted against `max_connections` meanwhile).
    ws.on('error', () => setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref());
    const every = Math.max(500, Math.floor(setup.idleMs / 2));
    this.#idleTimer = setInterval(this.#checkIdle, every);
    this.#idleTimer.unref();
    setup.log.info(
      {
        plugin_id: setup.plugin,
        version: setup.version,
        connection_id: setup.id,
        path: setup.path,
        user_id: setup.userId,
      },
      'websocket open',
    );
  }

  /** Joins the connection to the plugin's side. */
  attach(link: LiveLink): void {
    this.#link = link;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  readonly #onMessage = (raw: RawData, isBinary: boolean): void => {
    this.#lastSeen = Date.now();
    if (this.#closedWith) return;
    const { rate } = this.#setup;
    if (rate) {
      const step = gcra(this.#tat, rate, Date.now());
      this.#tat = step.tat;
      if (!step.decision.allowed) return this.close(1008, 'message rate limit');
    }
    this.#in++;
    const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
    const data: LiveData = isBinary ? new Uint8Array(bytes) : bytes.toString('utf8');
    if (++this.#pending >= MAX_PENDING && !this.#creditOut) {
      this.#creditOut = true;
      this.#setReading();
    }
    this.#link?.message(data);
  };

  #checkIdle = (): void => {
    const quiet = Date.now() - this.#lastSeen;
    if (quiet >= this.#setup.idleMs) {
      this.#closedWith ??= { code: 1001, reason: 'idle timeout' };
      this.#ws.terminate();
    } else if (quiet >= this.#setup.idleMs / 2) {
      this.#ws.ping();
    }
  };

  handled(): void {
    this.#pending = Math.max(0, this.#pending - 1);
    if (this.#creditOut && this.#pending <= MAX_PENDING / 2) {
      this.#creditOut = false;
      this.#setReading();
    }
  }

  hold(held: boolean): void {
    this.#held = held;
    this.#setReading();
  }

  /** Reads the client's socket unless its own credit ran out or the way to the plugin is full. */
  #setReading(): void {
    const read = !this.#creditOut && !this.#held;
    if (read === this.#reading) return;
    this.#reading = read;
    if (read) this.#ws.resume();
    else this.#ws.pause();
  }

  send(data: LiveData): void {
    if (this.#closedWith || this.#ws.readyState !== this.#ws.OPEN) return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (this.#ws.bufferedAmount + size > this.#setup.settings.max_buffered_bytes) {
      return this.close(1013, 'client too slow');
    }
    this.#out++;
    this.#ws.send(data, { binary: typeof data !== 'string' });
    if (this.#ws.bufferedAmount > this.#maxBuffered) this.#maxBuffered = this.#ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    if (this.#closedWith) return;
    this.#closedWith = { code, reason };
    this.#ws.close(code, reason);
    // A client that does not read will never answer the close frame: end the socket.
    setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  subscribe(topic: string): void {
    if (this.#gone) return;
    this.#setup.topics.subscribe(topic, this);
  }

  unsubscribe(topic: string): void {
    this.#setup.topics.unsubscribe(topic, this);
  }

  publish(topic: string, data: LiveData): void {
    this.#setup.topics.publish(topic, data, this);
  }

  #onClose(clientCode: number, clientReason: string): void {
    clearInterval(this.#idleTimer);
    const { code, reason } = this.#closedWith ?? { code: clientCode, reason: clientReason };
    this.#gone = true;
    this.#setup.topics.leave(this);
    this.#link?.closed(code, reason);
    const s = this.#setup;
    s.log.info(
      {
        plugin_id: s.plugin,
        version: s.version,
        connection_id: s.id,
        path: s.path,
        code,
        reason,
        messages_in: this.#in,
        messages_out: this.#out,
        buffered_max_bytes: this.#maxBuffered,
        duration_ms: Math.round(performance.now() - this.#opened),
      },
      `websocket closed ${code}`,
    );
    s.ended();
  }
}
