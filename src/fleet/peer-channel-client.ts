/**
 * The caller's side of peer channels (version 2 of the peer protocol, docs/peer-protocol.md): one
 * long-lived connection to each other gateway, opened by a signed upgrade of the peer route, carrying
 * many calls at once as tagged frames. The calls of one tick leave in one write, and the answers of one
 * read are settled together. A peer that does not offer the channel (an older gateway, a host without
 * the upgrade listener) is called with version 1 and asked again a minute later.
 * @module
 */
import type { Socket } from 'node:net';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  CHANNEL_MAX_CALL_BYTES,
  CHANNEL_MAX_IN_FLIGHT,
  CHANNEL_OPEN_ENVELOPE,
  CHANNEL_PROTOCOL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
  channelKey,
  ChannelFramingError,
  type OutFrame,
} from './peer-channel-frames.js';
import { PEER_PATH, PEER_SIGNATURE_HEADER, peerHeaders } from './peer-protocol.js';

/** A channel with no call in flight this long is closed (as undici's `keepAliveTimeout`). */
export const CHANNEL_CLIENT_IDLE_MS = 10_000;
/** After a peer refused (or failed) to open a channel, version 1 only for this long. */
export const CHANNEL_RETRY_MS = 60_000;
/** Call bytes unsent past which a channel takes no more calls (they go as version 1). */
const CLIENT_HIGH_WATER = 1024 * 1024;
/** An answer this late past its deadline means a silent owner: the channel is closed. */
const SILENCE_GRACE_MS = 1000;
const OPEN_TIMEOUT_MS = 2000;
/** Peers remembered before closed channels and refusals are forgotten. */
const MAX_PEERS = 1024;

/** The channel was lost before the answer came: the call is unanswered (`code` as undici's). */
export class ChannelLostError extends Error {
  readonly code = 'UND_ERR_SOCKET';
  constructor(
    message: string,
    /** Whether the call was handed to the socket: one that was not can go as version 1 instead. */
    readonly sent: boolean,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(answer: string): void;
  reject(error: Error): void;
  deadlineAt: number;
  sent: boolean;
}

/** One open channel to one peer. */
export class PeerChannel {
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** The calls of this turn of the event loop, written together at its end as one batch. */
  #unsent: OutFrame[] = [];
  #unsentCalls: Pending[] = [];
  #unsentBytes = 0;
  #closed = false;
  readonly #watchdog: NodeJS.Timeout;

  constructor(socket: Socket, head: Buffer, key: Buffer | undefined, maxAnswerBytes: number) {
    this.#socket = socket;
    this.#writer = new FrameWriter(key, FROM_CALLER);
    this.#reader = new FrameReader(key, FROM_OWNER, CHANNEL_ANSWER, maxAnswerBytes);
    socket.setNoDelay(true);
    socket.setTimeout(CHANNEL_CLIENT_IDLE_MS, () => {
      if (this.#pending.size === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#lost());
    this.#watchdog = setInterval(() => this.#checkSilence(), SILENCE_GRACE_MS);
    this.#watchdog.unref();
    if (head.length > 0) this.#read(head);
  }

  /** Whether a call of `bytes` can go on this channel now. */
  takes(bytes: number): boolean {
    return (
      !this.closed &&
      bytes <= CHANNEL_MAX_CALL_BYTES &&
      this.#pending.size < CHANNEL_MAX_IN_FLIGHT &&
      this.#socket.writableLength + this.#unsentBytes < CLIENT_HIGH_WATER
    );
  }

  /**
   * Whether the channel is lost. Its socket's `close` event comes a turn after `destroy()` (and after
   * the owner's end): a call meanwhile would be written to a dead socket, so those are looked at too.
   */
  get closed(): boolean {
    return this.#closed || this.#socket.destroyed || this.#socket.writableEnded;
  }

  /**
   * Sends one call's envelope; resolves with the answer's JSON. A call the channel was lost before it
   * was handed to the socket rejects with `sent: false`. @throws {ChannelLostError}
   */
  call(envelope: string, deadlineAt: number): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new ChannelLostError('the peer channel is closed', false));
      const id = (this.#nextId = (this.#nextId + 1) >>> 0);
      const pending: Pending = { resolve, reject, deadlineAt, sent: false };
      this.#pending.set(id, pending);
      const bytes = Buffer.byteLength(envelope);
      this.#unsent.push({ id, payload: envelope, bytes });
      this.#unsentCalls.push(pending);
      this.#unsentBytes += bytes;
      // Alone in flight (sequential traffic): no turn to share, it leaves at once (as the thread hop's
      // first task does); else with the others of this turn. After a read that answered several
      // calls, their callers' next calls come together in this turn: they wait for one another.
      if (this.#pending.size === 1 && !this.#answeredTogether) this.#flush();
      else if (this.#unsent.length === 1) setImmediate(this.#flush);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  /**
   * The calls of one turn of the event loop leave in one write, tagged as one batch (one MAC for all),
   * unless the channel was lost since.
   */
  readonly #flush = () => {
    const frames = this.#unsent;
    const calls = this.#unsentCalls;
    this.#unsent = [];
    this.#unsentCalls = [];
    this.#unsentBytes = 0;
    // Lost meanwhile: `#lost` rejects these calls as never sent.
    if (this.closed || frames.length === 0) return;
    for (const pending of calls) pending.sent = true;
    this.#socket.write(this.#writer.frames(CHANNEL_CALL, frames));
  };

  #read(chunk: Buffer): void {
    let answered = 0;
    try {
      this.#reader.push(chunk, (id, answer) => {
        const pending = this.#pending.get(id);
        if (pending === undefined) throw new ChannelFramingError(`an answer to no call (${id})`);
        this.#pending.delete(id);
        pending.resolve(answer);
        answered++;
      });
    } catch {
      this.#socket.destroy();
    }
    if (answered > 1 && !this.#answeredTogether) {
      this.#answeredTogether = true;
      setImmediate(this.#turnEnded);
    }
  }

  /** Whether a read of this loop turn answered several calls (see `call()`). */
  #answeredTogether = false;
  readonly #turnEnded = () => {
    this.#answeredTogether = false;
  };

  #checkSilence(): void {
    const now = Date.now();
    for (const pending of this.#pending.values()) {
      if (pending.deadlineAt + SILENCE_GRACE_MS < now) return void this.#socket.destroy();
    }
  }

  #lost(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    const sent = new ChannelLostError('the peer channel closed before the answer', true);
    const unsent = new ChannelLostError('the peer channel closed before the call was sent', false);
    for (const pending of this.#pending.values()) pending.reject(pending.sent ? sent : unsent);
    this.#pending.clear();
  }
}

/** Where a channel goes: the peer's address and node id. */
export interface ChannelTarget {
  readonly origin: string;
  readonly basePath: string;
  readonly nodeId: string;
}

/** The channels of one gateway to its peers, one per peer, opened at the first call to each. */
export class PeerChannels {
  readonly #open = new Map<string, PeerChannel | 'opening' | number>();
  #closed = false;
  constructor(
    readonly nodeId: string,
    readonly secret: string | undefined,
    readonly maxAnswerBytes: number,
  ) {}

  /** The open channel to `to` that takes a call of `bytes` now; else `undefined` (use version 1). */
  to(to: ChannelTarget, bytes: number): PeerChannel | undefined {
    const key = `${to.nodeId} ${to.origin}${to.basePath}`;
    const state = this.#open.get(key);
    if (state instanceof PeerChannel) {
      if (!state.closed) return state.takes(bytes) ? state : undefined;
    } else if (state === 'opening' || (state !== undefined && state > Date.now())) {
      return undefined;
    }
    if (this.#closed) return undefined;
    if (this.#open.size >= MAX_PEERS) this.#forgetClosed();
    this.#open.set(key, 'opening');
    void this.#connect(to).then(
      (channel) => {
        if (this.#closed) return channel.close();
        this.#open.set(key, channel);
      },
      () => this.#open.set(key, Date.now() + CHANNEL_RETRY_MS),
    );
    return undefined;
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#open.values()) if (state instanceof PeerChannel) state.close();
    this.#open.clear();
  }

  /** Peers come and go with the registry: closed channels and refusals are forgotten past the bound. */
  #forgetClosed(): void {
    for (const [key, state] of this.#open) {
      if (typeof state === 'number' || (state instanceof PeerChannel && state.closed)) {
        this.#open.delete(key);
      }
    }
  }

  async #connect(to: ChannelTarget): Promise<PeerChannel> {
    const url = new URL(`${to.basePath}${PEER_PATH}/channel`, to.origin);
    const { request } = await (url.protocol === 'https:'
      ? import('node:https')
      : import('node:http'));
    const signed = peerHeaders(this.nodeId, to.nodeId, CHANNEL_OPEN_ENVELOPE, this.secret);
    delete signed['content-type'];
    const key = channelKey(this.secret, signed[PEER_SIGNATURE_HEADER] ?? '');
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'GET',
        agent: false,
        headers: { ...signed, connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL },
      });
      const late = setTimeout(
        () => req.destroy(new Error('the peer did not open a channel in time')),
        OPEN_TIMEOUT_MS,
      );
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(late);
        if (res.headers.upgrade?.toLowerCase() !== CHANNEL_PROTOCOL) {
          socket.destroy();
          return reject(new Error('the peer answered another protocol'));
        }
        resolve(new PeerChannel(socket, head, key, this.maxAnswerBytes));
      });
      req.on('response', (res) => {
        clearTimeout(late);
        // Not read: whoever writes the registry names the peer, and a refusal may never end.
        res.destroy();
        req.destroy();
        reject(new Error(`the peer refused a channel (${res.statusCode})`));
      });
      req.on('error', (error) => {
        clearTimeout(late);
        reject(error);
      });
      req.end();
    });
  }
}
