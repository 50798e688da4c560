/**
 * The owner's side of a peer channel (version 2 of the peer protocol, docs/peer-protocol.md): after an
 * authenticated upgrade, reads call frames off the socket, serves each, and writes its answer frame.
 * The calls of one chunk are dispatched together once the chunk is parsed whole (one thread hop for
 * all of them, the first included: decision 0350), and the answers of one tick leave in one write,
 * tagged as one batch: the thread wake-ups, system calls and MACs of a burst are shared by its calls.
 *
 * Bounded: a frame longer than the largest call is refused at its header, a frame or batch left
 * unfinished past `openTimeoutMs` (from the chunk that began it) closes the channel, as do a bad tag, an id already in
 * flight and more calls in flight than {@link CHANNEL_MAX_IN_FLIGHT}. While the caller does not take its answers (more than
 * {@link CHANNEL_HIGH_WATER} bytes unsent) no call is read, and past `openTimeoutMs` so, it is cut. A
 * channel with no call in flight for {@link CHANNEL_IDLE_MS} is closed.
 * @module
 */
import type { Socket } from 'node:net';
import { ErrorCodes } from '../errors.js';
import { dispatchTogether } from '../loader/worker/task-batcher.js';
import { errorResponse } from '../shared/responses.js';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  CHANNEL_MAX_CALL_BYTES,
  CHANNEL_MAX_IN_FLIGHT,
  CHANNEL_PROTOCOL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
  type OutFrame,
} from './peer-channel-frames.js';

const failed = errorResponse(
  ErrorCodes.GATEWAY_ERROR,
  'the gateway failed to serve the call',
  'peer',
);
/** The answer to a call the gateway itself failed to serve: the caller tries elsewhere. */
const FAILED_ANSWER = JSON.stringify({
  response: { ...failed, body: { json: failed.body } },
  failure: 'unreachable',
});

/** Answer bytes unsent past which the owner stops reading calls. */
export const CHANNEL_HIGH_WATER = 4 * 1024 * 1024;
/** A channel with nothing in flight this long is closed (its caller closes it sooner). */
export const CHANNEL_IDLE_MS = 60_000;

export interface ChannelServing {
  /** The channel's key (`channelKey()`), or `undefined` without a secret. */
  key: Buffer | undefined;
  /** How long a frame may take to arrive whole. */
  openTimeoutMs: number;
  /** Serves one call's envelope: the answer's JSON (a rejection or a throw answers it unreachable). */
  serve(envelope: string): Promise<string>;
}

/** Switches `socket` (its upgrade accepted) to the channel; `head` is what followed the request head. */
export function servePeerChannel(socket: Socket, head: Buffer, serving: ChannelServing): Socket {
  const reader = new FrameReader(serving.key, FROM_CALLER, CHANNEL_CALL, CHANNEL_MAX_CALL_BYTES);
  const writer = new FrameWriter(serving.key, FROM_OWNER);
  const inFlight = new Set<number>();
  let partTimer: NodeJS.Timeout | undefined;
  let stallTimer: NodeJS.Timeout | undefined;
  /** The answers of this turn of the event loop, written together at its end as one batch. */
  let unsent: OutFrame[] = [];
  const flush = () => {
    const frames = unsent;
    unsent = [];
    if (socket.destroyed || frames.length === 0) return;
    socket.write(writer.frames(CHANNEL_ANSWER, frames));
    if (socket.writableLength > CHANNEL_HIGH_WATER && stallTimer === undefined) {
      // No call is read while the caller does not take its answers; past `openTimeoutMs`, cut.
      socket.pause();
      stallTimer = setTimeout(cut, serving.openTimeoutMs);
      stallTimer.unref();
    }
  };
  const cut = () => {
    clearTimeout(partTimer);
    clearTimeout(stallTimer);
    socket.destroy();
  };
  const answer = (id: number, payload: string) => {
    inFlight.delete(id);
    if (socket.destroyed) return;
    unsent.push({ id, payload, bytes: Buffer.byteLength(payload) });
    // The last call in flight answered: no other answer can join this batch, so it leaves now rather
    // than a loop turn later (a call alone on the channel waits for nothing).
    if (inFlight.size === 0) flush();
    else if (unsent.length === 1) setImmediate(flush);
  };
  const call = (id: number, envelope: string) => {
    if (inFlight.has(id) || inFlight.size >= CHANNEL_MAX_IN_FLIGHT) return cut();
    inFlight.add(id);
    let served: Promise<string>;
    try {
      served = serving.serve(envelope);
    } catch (error) {
      // Thrown before its first await: still this call's failure alone, never the read's.
      served = Promise.reject(error as Error);
    }
    void served.then(
      (text) => answer(id, text),
      // The gateway failed (not the plugin): this call is answered unreachable, the others go on.
      () => answer(id, FAILED_ANSWER),
    );
  };
  let framesRead = 0;
  /** The calls of this read (id, envelope, …), dispatched once the read is parsed. */
  let calls: (number | string)[] = [];
  const each = (id: number, envelope: string) => {
    framesRead++;
    calls.push(id, envelope);
  };
  const dispatchCalls = () => {
    const read = calls;
    calls = [];
    for (let i = 0; i < read.length && !socket.destroyed; i += 2) {
      call(read[i] as number, read[i + 1] as string);
    }
  };
  const read = (chunk: Buffer) => {
    const before = framesRead;
    try {
      reader.push(chunk, each);
    } catch {
      // The calls of batches verified before the bad one were the caller's own: the channel ends
      // without serving them, as it ends without answering the ones in flight.
      calls = [];
      return cut();
    }
    // Several calls in one read share one thread hop, the first one included.
    if (calls.length > 2) dispatchTogether(dispatchCalls);
    else if (calls.length > 0) dispatchCalls();
    if (socket.destroyed) return;
    if (!reader.partial) {
      clearTimeout(partTimer);
      partTimer = undefined;
    } else if (partTimer === undefined) {
      partTimer = setTimeout(cut, serving.openTimeoutMs);
      partTimer.unref();
    } else if (framesRead > before) {
      // The frame held now began in this chunk: its time is measured from here, not from the first
      // frame of the burst (a busy caller's reads seldom end on a frame boundary).
      partTimer.refresh();
    }
  };
  socket.setNoDelay(true);
  socket.setTimeout(CHANNEL_IDLE_MS, () => {
    if (inFlight.size === 0) cut();
  });
  socket.on('drain', () => {
    if (stallTimer === undefined) return;
    clearTimeout(stallTimer);
    stallTimer = undefined;
    socket.resume();
  });
  socket.on('error', cut);
  // A server's sockets allow half-open: the caller's end would otherwise leave this one open.
  socket.on('end', cut);
  socket.on('close', cut);
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${CHANNEL_PROTOCOL}\r\nconnection: upgrade\r\n\r\n`,
  );
  if (head.length > 0) read(head);
  socket.on('data', read);
  return socket;
}
