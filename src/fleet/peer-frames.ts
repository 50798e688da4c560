/**
 * Frames of the streaming peer protocol (docs/peer-protocol.md, "Streams"): one byte of kind, four of
 * length (big-endian), then the payload. The caller's request body opens with a `call` frame (the
 * signed envelope) and goes on with the upload's raw bytes; the owner's answer is a `head` frame, then
 * `text`/`bytes` chunks, then exactly one `end`. A reader never holds more than one frame of at most
 * the limit it is given, plus the network chunk it is cutting: a longer length is refused unread.
 * @module
 */

export const FrameKind = {
  call: 1,
  head: 2,
  text: 3,
  bytes: 4,
  end: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const KINDS = new Set<number>(Object.values(FrameKind));
const HEADER_BYTES = 5;

/** One frame on the wire: its 5-byte header and its payload, as one exact-size buffer. */
export function frame(kind: FrameKind, payload: string | Uint8Array): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
  out[0] = kind;
  out.writeUInt32BE(body.byteLength, 1);
  out.set(body, HEADER_BYTES);
  return out;
}

/** A frame read back: its kind and its payload (an exact-size copy, never a view on a larger chunk). */
export interface Frame {
  kind: FrameKind;
  payload: Uint8Array;
}

/** Thrown for a peer that breaks the framing: the stream is cut, never repaired. */
export class FramingError extends Error {}

/**
 * Reads frames off a byte stream (an undici body, a request). `next(limit)` waits for one whole frame;
 * `rest()` hands on what follows the frames read so far, unframed (an upload's bytes).
 */
export class FrameReader {
  readonly #source: AsyncIterator<Uint8Array>;
  /** Bytes read and not yet handed on. */
  #held: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /**
   * The next frame, or `undefined` when the stream ended cleanly between two frames.
   * @throws {FramingError} for an unknown kind, a payload longer than `limit` bytes, or a stream that
   * ends inside a frame.
   */
  async next(limit: number): Promise<Frame | undefined> {
    if (!(await this.#fill(HEADER_BYTES))) {
      if (this.#held.length === 0) return undefined;
      throw new FramingError('the stream ended inside a frame header');
    }
    const kind = this.#held[0]!;
    if (!KINDS.has(kind)) throw new FramingError(`unknown frame kind ${kind}`);
    const length = this.#held.readUInt32BE(1);
    if (length > limit) throw new FramingError(`a frame of ${length} bytes (at most ${limit})`);
    if (!(await this.#fill(HEADER_BYTES + length))) {
      throw new FramingError('the stream ended inside a frame');
    }
    const payload = Uint8Array.prototype.slice.call(
      this.#held,
      HEADER_BYTES,
      HEADER_BYTES + length,
    );
    this.#held = this.#held.subarray(HEADER_BYTES + length);
    return { kind: kind as FrameKind, payload };
  }

  /** What follows the frames read, as it comes; the source is read only as this is. */
  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.#held.length > 0) {
      const held = this.#held;
      this.#held = Buffer.alloc(0);
      yield held;
    }
    while (!this.#ended) {
      const step = await this.#source.next();
      if (step.done) {
        this.#ended = true;
        return;
      }
      yield step.value;
    }
  }

  /** Stops reading: the source is returned (an undici body is destroyed, a request's socket freed). */
  async close(): Promise<void> {
    this.#ended = true;
    await this.#source.return?.();
  }

  /** Reads until `bytes` are held (joined once, not per network chunk); `false` when the source ended first. */
  async #fill(bytes: number): Promise<boolean> {
    if (this.#held.length >= bytes) return true;
    const parts = [this.#held];
    let size = this.#held.length;
    while (size < bytes && !this.#ended) {
      const step = await this.#source.next();
      if (step.done) {
        this.#ended = true;
        break;
      }
      parts.push(Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength));
      size += step.value.byteLength;
    }
    this.#held = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    return size >= bytes;
  }
}
