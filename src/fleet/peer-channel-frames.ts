/**
 * Frames of the peer channel (docs/peer-protocol.md, "Version 2"): one long-lived connection between
 * two gateways carrying many calls at once. Each frame is a 41-byte header and a UTF-8 JSON payload:
 *
 * ```
 * kind (1: call, 2: answer; | 0x80: the batch goes on) | call id (u32 BE) | payload length (u32 BE)
 *   | tag (32 bytes) | payload
 * ```
 *
 * The frames written in one turn of the event loop form one batch, and one tag covers the whole batch:
 * HMAC-SHA256 under the channel's key of the direction, the batch's sequence number in its direction,
 * and every byte of the batch but its last frame's tag (the earlier frames' tags are zeros). The frames
 * of a batch are handed on only once the whole batch is read and its tag checked. The TCP stream is
 * neither confidential nor authenticated, so an injected, altered, dropped, reordered or replayed frame
 * or batch fails its tag and the channel is closed. A batch of one frame is tagged exactly as a frame
 * of `veza-peer/2` was. Without a secret (`insecure: 'private-network'`) tags are zeros and unchecked.
 * @module
 */
import { createHmac, timingSafeEqual, type Hmac } from 'node:crypto';

/** The `upgrade` token that opens a channel, and the version it speaks (3: tags per batch). */
export const CHANNEL_PROTOCOL = 'veza-peer/3';
/** What the opening request's signature covers in place of a body. */
export const CHANNEL_OPEN_ENVELOPE = `${CHANNEL_PROTOCOL} channel`;
export const CHANNEL_CALL = 1;
export const CHANNEL_ANSWER = 2;
/** Set on the kind of every frame of a batch but its last: that frame's tag is zeros. */
export const CHANNEL_MORE = 0x80;
/** Direction bytes in the tag: a frame cannot be reflected back to its sender. */
export const FROM_CALLER = 0x63;
export const FROM_OWNER = 0x6f;
export const CHANNEL_HEADER_BYTES = 41;
/** The largest call a channel carries; a larger one goes as a version 1 call. */
export const CHANNEL_MAX_CALL_BYTES = 1024 * 1024;
/** Calls unanswered at once on one channel; past it the caller uses version 1. */
export const CHANNEL_MAX_IN_FLIGHT = 128;
/**
 * The most bytes (headers included) a batch of several frames holds, and the most frames: a reader
 * holds a batch unverified until its end, so both are bounded. A larger frame travels alone.
 */
export const CHANNEL_MAX_BATCH_BYTES = 1024 * 1024;
export const CHANNEL_MAX_BATCH_FRAMES = CHANNEL_MAX_IN_FLIGHT;

/** The channel's key: bound to the fleet's secret and to the (replay-guarded) signature that opened it. */
export function channelKey(secret: string | undefined, openSignature: string): Buffer | undefined {
  if (secret === undefined) return undefined;
  return createHmac('sha256', secret).update(`${CHANNEL_PROTOCOL} key\n${openSignature}`).digest();
}

/** A batch's MAC, begun with what binds it to its place: direction and sequence number. */
function batchMac(key: Buffer, direction: number, seq: number): Hmac {
  const prefix = Buffer.allocUnsafe(9);
  prefix[0] = direction;
  prefix.writeUInt32BE(Math.floor(seq / 2 ** 32), 1);
  prefix.writeUInt32BE(seq >>> 0, 5);
  return createHmac('sha256', key).update(prefix);
}

/** One frame to write: its call id, its payload and the payload's length in UTF-8 bytes. */
export interface OutFrame {
  id: number;
  payload: string;
  bytes: number;
}

/** Writes frames of one direction: each batch tagged with the next sequence number. */
export class FrameWriter {
  #seq = 0;
  constructor(
    readonly key: Buffer | undefined,
    readonly direction: number,
  ) {}

  /** One frame, a batch of its own, as one exact-size buffer. */
  frame(kind: number, id: number, payload: string): Buffer {
    return this.frames(kind, [{ id, payload, bytes: Buffer.byteLength(payload) }]);
  }

  /**
   * `frames` in order as one exact-size buffer: as few batches as the bounds allow (a batch closes
   * before it would pass {@link CHANNEL_MAX_BATCH_BYTES} or {@link CHANNEL_MAX_BATCH_FRAMES}), each
   * tagged once.
   */
  frames(kind: number, frames: readonly OutFrame[]): Buffer {
    let total = 0;
    for (const f of frames) total += CHANNEL_HEADER_BYTES + f.bytes;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    let batchStart = 0;
    let batchFrames = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const size = CHANNEL_HEADER_BYTES + f.bytes;
      out[at] = kind;
      out.writeUInt32BE(f.id, at + 1);
      out.writeUInt32BE(f.bytes, at + 5);
      out.fill(0, at + 9, at + CHANNEL_HEADER_BYTES);
      out.write(f.payload, at + CHANNEL_HEADER_BYTES, f.bytes, 'utf8');
      batchFrames++;
      at += size;
      const next = frames[i + 1];
      const batchBytes = at - batchStart;
      const goesOn =
        next !== undefined &&
        batchFrames < CHANNEL_MAX_BATCH_FRAMES &&
        batchBytes + CHANNEL_HEADER_BYTES + next.bytes <= CHANNEL_MAX_BATCH_BYTES;
      if (goesOn) {
        out[at - size] = kind | CHANNEL_MORE;
        continue;
      }
      this.#tag(out, batchStart, at - size, f.bytes);
      batchStart = at;
      batchFrames = 0;
    }
    return out;
  }

  /** Tags the batch `out[start, last frame's end)`, writing the tag into its last frame's header. */
  #tag(out: Buffer, start: number, last: number, lastBytes: number): void {
    const seq = this.#seq++;
    if (this.key === undefined) return;
    const mac = batchMac(this.key, this.direction, seq);
    mac.update(out.subarray(start, last + 9));
    mac.update(out.subarray(last + CHANNEL_HEADER_BYTES, last + CHANNEL_HEADER_BYTES + lastBytes));
    mac.digest().copy(out, last + 9);
  }
}

/** Thrown for a peer that breaks the framing or the tags: the channel is closed, never repaired. */
export class ChannelFramingError extends Error {}

/**
 * Reads frames of one kind and direction off a byte stream, pushed chunk by chunk. A frame longer than
 * `limit`, or one that would take its batch past the batch bounds, is refused at its header, unread;
 * the frames of a batch are handed on only once the whole batch is read and its tag checked.
 */
export class FrameReader {
  #parts: Buffer[] = [];
  #held = 0;
  /** Bytes needed before the next step can be taken. */
  #need = 9;
  #seq = 0;
  /** The frames of the batch being read (whole, not yet verified), and their bytes. */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  constructor(
    readonly key: Buffer | undefined,
    readonly direction: number,
    readonly kind: number,
    readonly limit: number,
  ) {}

  /** Whether part of a frame or of a batch is held, waiting for the rest. */
  get partial(): boolean {
    return this.#held > 0 || this.#batch.length > 0;
  }

  /**
   * Takes `chunk`, calls `each` for every frame of every batch it completes.
   * @throws {ChannelFramingError}
   */
  push(chunk: Buffer, each: (id: number, payload: string) => void): void {
    this.#parts.push(chunk);
    this.#held += chunk.length;
    if (this.#held < this.#need) return;
    const buf = this.#parts.length === 1 ? chunk : Buffer.concat(this.#parts, this.#held);
    let at = 0;
    for (;;) {
      const left = buf.length - at;
      if (left < 9) break;
      const kind = buf[at]!;
      if ((kind & ~CHANNEL_MORE) !== this.kind) {
        throw new ChannelFramingError(`unexpected frame kind ${kind}`);
      }
      const length = buf.readUInt32BE(at + 5);
      if (length > this.limit) {
        throw new ChannelFramingError(`a frame of ${length} bytes (at most ${this.limit})`);
      }
      const size = CHANNEL_HEADER_BYTES + length;
      const more = kind !== this.kind;
      if (more || this.#batch.length > 0) {
        if (this.#batchBytes + size > CHANNEL_MAX_BATCH_BYTES) {
          throw new ChannelFramingError(`a batch past ${CHANNEL_MAX_BATCH_BYTES} bytes`);
        }
        if (this.#batch.length + 1 > CHANNEL_MAX_BATCH_FRAMES) {
          throw new ChannelFramingError(`a batch past ${CHANNEL_MAX_BATCH_FRAMES} frames`);
        }
      }
      if (left < size) break;
      const frame = buf.subarray(at, at + size);
      at += size;
      this.#batch.push(frame);
      this.#batchBytes += size;
      if (more) continue;
      this.#verify();
      const batch = this.#batch;
      this.#batch = [];
      this.#batchBytes = 0;
      for (const f of batch) each(f.readUInt32BE(1), f.toString('utf8', CHANNEL_HEADER_BYTES));
    }
    const rest = buf.length - at;
    this.#parts = rest === 0 ? [] : [buf.subarray(at)];
    this.#held = rest;
    this.#need = rest < 9 ? 9 : CHANNEL_HEADER_BYTES + buf.readUInt32BE(at + 5);
  }

  /** Checks the tag of the batch just completed (its last frame's). @throws {ChannelFramingError} */
  #verify(): void {
    const seq = this.#seq++;
    if (this.key === undefined) return;
    const mac = batchMac(this.key, this.direction, seq);
    const batch = this.#batch;
    for (let i = 0; i < batch.length - 1; i++) mac.update(batch[i]!);
    const last = batch[batch.length - 1]!;
    mac.update(last.subarray(0, 9)).update(last.subarray(CHANNEL_HEADER_BYTES));
    if (!timingSafeEqual(mac.digest(), last.subarray(9, CHANNEL_HEADER_BYTES))) {
      throw new ChannelFramingError(
        batch.length === 1
          ? 'a frame whose tag does not match'
          : 'a batch whose tag does not match',
      );
    }
  }
}
