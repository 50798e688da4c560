/**
 * Frames of the plugin protocol (docs/plugin-protocol.md): a 4-byte big-endian length, then that many
 * bytes of one MessagePack value. The reader is the host's defence against a plugin process: the
 * length is checked against a ceiling before a byte of the frame is kept, a frame is decoded only once
 * complete and once its values are counted (a budget of decode work), its strings, arrays and maps are
 * bounded by its own length, every byte string it holds
 * comes out as an exact-size copy, and a frame begun but not finished within a bound is an error. The
 * first error ends the stream: the runtime ends that plugin's process.
 * @module
 */
import { createRequire } from 'node:module';
import type * as Msgpack from '@msgpack/msgpack';
import { ownBody } from '../../shared/own-bytes.js';
import { overValueBudget } from './frame-values.js';

/** The highest protocol version this host speaks; `hello` and `start` negotiate (`process-notes.ts`). */
export const PROTOCOL_VERSION = 1;
/** The lowest protocol version this host speaks; a process speaking none of them is ended. */
export const MIN_PROTOCOL_VERSION = 1;
/** Bytes of the length before each frame. */
export const HEADER_BYTES = 4;
/** Bytes a frame from a plugin may hold on top of its reply limit: a `result` note's envelope, a log line. */
export const FRAME_ENVELOPE_BYTES = 64 * 1024;
/** The largest length the header can say. */
const MAX_LENGTH = 0xffff_ffff;
/**
 * Values (scalars, strings, arrays, maps, each map key) a frame from a plugin may hold: decoding costs
 * per value, and 2^18 decode in about 12 ms into 16 MiB of the host's heap, where 8 million one-byte
 * maps in an 8 MiB frame took 5 s and 500 MiB. A body that large travels as bytes or a string (one value).
 */
export const MAX_FRAME_VALUES = 262_144;
/** Levels of envelope around a body (message, task, request, body): allowed on top of a body's own depth. */
const ENVELOPE_DEPTH = 8;

interface Codec {
  lib: typeof Msgpack;
  encoder: Msgpack.Encoder;
  /**
   * Extension types the reader accepts: the timestamp (-1, a `Date`) alone. Any other would come out
   * as an `ExtData` holding a view on the frame, which no later check of plain data would look into.
   */
  timestampOnly: Msgpack.ExtensionCodec;
}

let loaded: Codec | undefined;

/**
 * MessagePack, required with the first reader or frame rather than with the gateway: a host with no
 * process plugin never needs it (issue 24: the main entry's import). A plugin process makes its reader
 * before its lockdown, so it never loads a module after it.
 */
function codec(): Codec {
  if (loaded !== undefined) return loaded;
  const lib = createRequire(import.meta.url)('@msgpack/msgpack') as typeof Msgpack;
  const timestampOnly = new lib.ExtensionCodec();
  for (let type = -128; type <= 127; type++) {
    if (type === -1) continue;
    timestampOnly.register({
      type,
      encode: () => null,
      decode: () => {
        throw new RangeError(`MessagePack extension type ${type}`);
      },
    });
  }
  return (loaded = { lib, encoder: new lib.Encoder({ ignoreUndefined: true }), timestampOnly });
}

/**
 * One value as a frame.
 * @throws {Error} when the value cannot be encoded (a function, a Map, a cycle) or is over 4 GiB.
 */
export function encodeFrame(value: unknown): Buffer {
  const payload = codec().encoder.encode(value);
  if (payload.byteLength > MAX_LENGTH) throw new RangeError('a frame over 4 GiB');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/** What a reader accepts. */
export interface FrameLimits {
  /** The largest frame (without its header), bytes. */
  maxFrameBytes: number;
  /** How long a frame may stay unfinished once its first byte arrived, ms (0: no bound). */
  stallMs: number;
  /** Values a frame may hold, counted before it is decoded (`MAX_FRAME_VALUES`); absent: no bound. */
  maxValues?: number;
}

/** Turns a byte stream into decoded values; the first malformed, oversized or stalled frame stops it. */
export class FrameReader {
  readonly #limits: FrameLimits;
  readonly #onFrame: (value: unknown) => void;
  readonly #onError: (reason: string) => void;
  readonly #decoder: Msgpack.Decoder;
  /** Bytes of the frame being read (its header included), in arrival order. */
  #parts: Buffer[] = [];
  #held = 0;
  /** The frame's length once its header is complete, else -1. */
  #length = -1;
  #stall: NodeJS.Timeout | undefined;
  #failed = false;

  constructor(
    limits: FrameLimits,
    onFrame: (value: unknown) => void,
    onError: (reason: string) => void,
  ) {
    this.#limits = limits;
    this.#onFrame = onFrame;
    this.#onError = onError;
    const max = limits.maxFrameBytes;
    const { lib, timestampOnly } = codec();
    this.#decoder = new lib.Decoder({
      extensionCodec: timestampOnly,
      maxStrLength: max,
      maxBinLength: max,
      maxArrayLength: max,
      maxMapLength: max,
      maxExtLength: max,
    });
  }

  /** Takes the next bytes of the stream. */
  push(chunk: Buffer): void {
    let at = 0;
    while (!this.#failed && at < chunk.length) {
      if (this.#length < 0) {
        // Reading a header (perhaps split across chunks).
        const take = Math.min(HEADER_BYTES - this.#held, chunk.length - at);
        this.#keep(chunk.subarray(at, at + take));
        at += take;
        if (this.#held < HEADER_BYTES) break;
        const length = Buffer.concat(this.#parts, HEADER_BYTES).readUInt32BE(0);
        this.#parts = [];
        this.#held = 0;
        if (length > this.#limits.maxFrameBytes) {
          return this.#fail(
            `a frame of ${length} bytes, over the limit of ${this.#limits.maxFrameBytes}`,
          );
        }
        this.#length = length;
        if (length === 0) return this.#fail('an empty frame');
        continue;
      }
      const take = Math.min(this.#length - this.#held, chunk.length - at);
      this.#keep(chunk.subarray(at, at + take));
      at += take;
      if (this.#held < this.#length) break;
      const frame = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      this.#held = 0;
      this.#length = -1;
      clearTimeout(this.#stall);
      this.#stall = undefined;
      this.#deliver(frame);
    }
  }

  /** Stops the stall timer (the stream ended). */
  close(): void {
    clearTimeout(this.#stall);
    this.#stall = undefined;
    this.#failed = true;
  }

  #keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.#stall === undefined && this.#limits.stallMs > 0) {
      this.#stall = setTimeout(
        () => this.#fail(`a frame left unfinished for ${this.#limits.stallMs} ms`),
        this.#limits.stallMs,
      ).unref();
    }
    this.#parts.push(bytes);
    this.#held += bytes.length;
  }

  #deliver(frame: Buffer): void {
    let value: unknown;
    try {
      // Byte strings come out as views on `frame`, which may be a chunk holding other frames: each is
      // copied to its own length. The walk also bounds the nesting the rest of the host will follow.
      // Decoded from a plain Uint8Array, byte strings are Uint8Arrays, as structured clone gives a thread.
      const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.length);
      const { maxValues } = this.#limits;
      if (maxValues !== undefined && overValueBudget(bytes, maxValues))
        return this.#fail(`a frame of more than ${maxValues} values`);
      value = ownBody(this.#decoder.decode(bytes), ENVELOPE_DEPTH);
    } catch (error) {
      return this.#fail(`a frame that does not decode (${(error as Error).message})`);
    }
    this.#onFrame(value);
  }

  #fail(reason: string): void {
    if (this.#failed) return;
    this.close();
    this.#parts = [];
    this.#onError(reason);
  }
}
