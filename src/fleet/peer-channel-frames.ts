/**
 * Frames of the peer channel (docs/peer-protocol.md, "Version 2"): one long-lived connection between
 * two gateways carrying many calls at once. Each frame is a 41-byte header and a UTF-8 JSON payload:
 *
 * ```
 * kind (1: call, 2: answer) | call id (u32 BE) | payload length (u32 BE) | tag (32 bytes) | payload
 * ```
 *
 * The tag is HMAC-SHA256 under the channel's key of the direction, the frame's sequence number in its
 * direction, the first nine header bytes and the payload: the TCP stream is neither confidential nor
 * authenticated, so an injected, altered, dropped, reordered or replayed frame fails its tag and the
 * channel is closed. Without a secret (`insecure: 'private-network'`) the tag is zeros and unchecked.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The `upgrade` token that opens a channel, and the version it speaks. */
export const CHANNEL_PROTOCOL = 'veza-peer/2';
/** What the opening request's signature covers in place of a body. */
export const CHANNEL_OPEN_ENVELOPE = 'veza-peer/2 channel';
export const CHANNEL_CALL = 1;
export const CHANNEL_ANSWER = 2;
/** Direction bytes in the tag: a frame cannot be reflected back to its sender. */
export const FROM_CALLER = 0x63;
export const FROM_OWNER = 0x6f;
export const CHANNEL_HEADER_BYTES = 41;
/** The largest call a channel carries; a larger one goes as a version 1 call. */
export const CHANNEL_MAX_CALL_BYTES = 1024 * 1024;
/** Calls unanswered at once on one channel; past it the caller uses version 1. */
export const CHANNEL_MAX_IN_FLIGHT = 128;

const TAG_BYTES = 32;
const ZERO_TAG = Buffer.alloc(TAG_BYTES);

/** The channel's key: bound to the fleet's secret and to the (replay-guarded) signature that opened it. */
export function channelKey(secret: string | undefined, openSignature: string): Buffer | undefined {
  if (secret === undefined) return undefined;
  return createHmac('sha256', secret).update(`${CHANNEL_PROTOCOL} key\n${openSignature}`).digest();
}

function tag(key: Buffer, direction: number, seq: number, frame: Buffer, length: number): Buffer {
  const prefix = Buffer.allocUnsafe(9);
  prefix[0] = direction;
  prefix.writeUInt32BE(Math.floor(seq / 2 ** 32), 1);
  prefix.writeUInt32BE(seq >>> 0, 5);
  return createHmac('sha256', key)
    .update(prefix)
    .update(frame.subarray(0, 9))
    .update(frame.subarray(CHANNEL_HEADER_BYTES, CHANNEL_HEADER_BYTES + length))
    .digest();
}

/** Writes frames of one direction: each tagged with the next sequence number. */
export class FrameWriter {
  #seq = 0;
  constructor(
    readonly key: Buffer | undefined,
    readonly direction: number,
  ) {}

  /** One frame as one exact-size buffer. */
  frame(kind: number, id: number, payload: string): Buffer {
    const length = Buffer.byteLength(payload);
    const out = Buffer.allocUnsafe(CHANNEL_HEADER_BYTES + length);
    out[0] = kind;
    out.writeUInt32BE(id, 1);
    out.writeUInt32BE(length, 5);
    out.write(payload, CHANNEL_HEADER_BYTES, 'utf8');
    const seq = this.#seq++;
    (this.key ? tag(this.key, this.direction, seq, out, length) : ZERO_TAG).copy(out, 9);
    return out;
  }
}

/** Thrown for a peer that breaks the framing or the tags: the channel is closed, never repaired. */
export class ChannelFramingError extends Error {}

/**
 * Reads frames of one kind and direction off a byte stream, pushed chunk by chunk. A frame longer than
 * `limit` is refused at its header, unread; a frame is handed on only once whole and its tag checked.
 */
export class FrameReader {
  #parts: Buffer[] = [];
  #held = 0;
  /** Bytes needed before the next step can be taken. */
  #need = 9;
  #seq = 0;
  constructor(
    readonly key: Buffer | undefined,
    readonly direction: number,
    readonly kind: number,
    readonly limit: number,
  ) {}

  /** Whether part of a frame is held, waiting for the rest. */
  get partial(): boolean {
    return this.#held > 0;
  }

  /** Takes `chunk`, calls `each` for every whole frame it completes. @throws {ChannelFramingError} */
  push(chunk: Buffer, each: (id: number, payload: string) => void): void {
    this.#parts.push(chunk);
    this.#held += chunk.length;
    if (this.#held < this.#need) return;
    const buf = this.#parts.length === 1 ? chunk : Buffer.concat(this.#parts, this.#held);
    let at = 0;
    for (;;) {
      const left = buf.length - at;
      if (left < 9) break;
      if (buf[at] !== this.kind) throw new ChannelFramingError(`unexpected frame kind ${buf[at]}`);
      const length = buf.readUInt32BE(at + 5);
      if (length > this.limit) {
        throw new ChannelFramingError(`a frame of ${length} bytes (at most ${this.limit})`);
      }
      if (left < CHANNEL_HEADER_BYTES + length) break;
      const frame = buf.subarray(at, at + CHANNEL_HEADER_BYTES + length);
      const seq = this.#seq++;
      if (this.key) {
        const expected = tag(this.key, this.direction, seq, frame, length);
        if (!timingSafeEqual(expected, frame.subarray(9, CHANNEL_HEADER_BYTES))) {
          throw new ChannelFramingError('a frame whose tag does not match');
        }
      }
      at += CHANNEL_HEADER_BYTES + length;
      each(frame.readUInt32BE(1), frame.toString('utf8', CHANNEL_HEADER_BYTES));
    }
    const rest = buf.length - at;
    this.#parts = rest === 0 ? [] : [buf.subarray(at)];
    this.#held = rest;
    this.#need = rest < 9 ? 9 : CHANNEL_HEADER_BYTES + buf.readUInt32BE(at + 5);
  }
}
