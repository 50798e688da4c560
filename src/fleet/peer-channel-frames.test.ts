import { describe, expect, it } from 'vitest';
import {
  CHANNEL_CALL,
  CHANNEL_HEADER_BYTES,
  CHANNEL_MAX_BATCH_BYTES,
  CHANNEL_MAX_BATCH_FRAMES,
  CHANNEL_MORE,
  FROM_CALLER,
  FrameReader,
  FrameWriter,
  channelKey,
  type OutFrame,
} from './peer-channel-frames.js';

const key = channelKey('fleet-secret-0123456789', 'a'.repeat(64))!;
const out = (id: number, payload: string): OutFrame => ({
  id,
  payload,
  bytes: Buffer.byteLength(payload),
});
const reader = (limit = 1 << 20) => new FrameReader(key, FROM_CALLER, CHANNEL_CALL, limit);

/** The frames `bytes` holds, read in chunks of `step` bytes. */
function readAll(bytes: Buffer, step = bytes.length, r = reader()): [number, string][] {
  const got: [number, string][] = [];
  for (let at = 0; at < bytes.length; at += step) {
    r.push(bytes.subarray(at, at + step), (id, text) => got.push([id, text]));
  }
  return got;
}

/** Offsets of the frames in `bytes`, with their kinds. */
function frameStarts(bytes: Buffer): { at: number; kind: number }[] {
  const starts: { at: number; kind: number }[] = [];
  for (let at = 0; at < bytes.length; at += CHANNEL_HEADER_BYTES + bytes.readUInt32BE(at + 5)) {
    starts.push({ at, kind: bytes[at]! });
  }
  return starts;
}

describe('peer channel batches', () => {
  it('the frames of one write are one batch, one tag, read back whole however they are cut', () => {
    const writer = new FrameWriter(key, FROM_CALLER);
    const frames = [out(1, '{"a":1}'), out(2, '"é ✓"'), out(3, '[]')];
    const bytes = writer.frames(CHANNEL_CALL, frames);
    expect(frameStarts(bytes).map((f) => f.kind)).toEqual([
      CHANNEL_CALL | CHANNEL_MORE,
      CHANNEL_CALL | CHANNEL_MORE,
      CHANNEL_CALL,
    ]);
    // Only the last frame carries a tag.
    const [first, , last] = frameStarts(bytes);
    expect(
      bytes.subarray(first!.at + 9, first!.at + CHANNEL_HEADER_BYTES).every((b) => b === 0),
    ).toBe(true);
    expect(bytes.subarray(last!.at + 9, last!.at + CHANNEL_HEADER_BYTES).some((b) => b !== 0)).toBe(
      true,
    );
    const expected = frames.map((f) => [f.id, f.payload]);
    for (const step of [1, 7, 41, 50, bytes.length]) expect(readAll(bytes, step)).toEqual(expected);
  });

  it('hands on nothing of a batch before its end, and says it holds part of one', () => {
    const bytes = new FrameWriter(key, FROM_CALLER).frames(CHANNEL_CALL, [
      out(1, '1'),
      out(2, '2'),
    ]);
    const r = reader();
    const got: number[] = [];
    const second = frameStarts(bytes)[1]!.at;
    r.push(bytes.subarray(0, second), (id) => got.push(id));
    expect(got).toEqual([]);
    expect(r.partial).toBe(true);
    r.push(bytes.subarray(second), (id) => got.push(id));
    expect(got).toEqual([1, 2]);
    expect(r.partial).toBe(false);
  });

  it('every byte of a batch is bound: with any one changed, no frame of it is handed on', () => {
    const bytes = new FrameWriter(key, FROM_CALLER).frames(CHANNEL_CALL, [
      out(1, '{}'),
      out(2, '[]'),
    ]);
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] = bad[i]! ^ 0x01;
      const got: number[] = [];
      const r = reader();
      let threw = false;
      try {
        r.push(bad, (id) => got.push(id));
      } catch {
        threw = true;
      }
      expect(got, `byte ${i}`).toEqual([]);
      // A length made longer leaves the reader waiting for bytes that never come (then cut on time).
      expect(threw || r.partial, `byte ${i}`).toBe(true);
    }
  });

  it('batches keep their order: a batch replayed, dropped or swapped fails', () => {
    const writer = new FrameWriter(key, FROM_CALLER);
    const a = writer.frames(CHANNEL_CALL, [out(1, '1'), out(2, '2')]);
    const b = writer.frame(CHANNEL_CALL, 3, '3');
    expect(readAll(Buffer.concat([a, b])).map(([id]) => id)).toEqual([1, 2, 3]);
    expect(() => readAll(b)).toThrow(/tag/);
    expect(() => readAll(Buffer.concat([a, a]))).toThrow(/tag/);
    expect(() => readAll(Buffer.concat([b, a]))).toThrow(/tag/);
  });

  it('splits what would pass the batch bounds into batches of their own, each read back', () => {
    const many = Array.from({ length: CHANNEL_MAX_BATCH_FRAMES + 5 }, (_, i) => out(i + 1, `${i}`));
    const big = 'x'.repeat(CHANNEL_MAX_BATCH_BYTES / 2);
    const frames = [...many, out(1000, big), out(1001, big), out(1002, '"last"')];
    const bytes = new FrameWriter(key, FROM_CALLER).frames(CHANNEL_CALL, frames);
    const ends = frameStarts(bytes).filter((f) => !(f.kind & CHANNEL_MORE)).length;
    expect(ends).toBe(3);
    expect(readAll(bytes, 65_536).map(([id]) => id)).toEqual(frames.map((f) => f.id));
  });

  it('refuses, at the header, a frame that takes a batch past its bounds', () => {
    const header = (kind: number, length: number) => {
      const h = Buffer.alloc(CHANNEL_HEADER_BYTES);
      h[0] = kind;
      h.writeUInt32BE(1, 1);
      h.writeUInt32BE(length, 5);
      return h;
    };
    // Alone, a frame of the batch's size would be a frame like any other (limit 2 MiB here)...
    const r = reader(2 << 20);
    expect(() => r.push(header(CHANNEL_CALL, CHANNEL_MAX_BATCH_BYTES), () => {})).not.toThrow();
    // ...but one that says the batch goes on is judged by the batch's bound.
    expect(() =>
      reader(2 << 20).push(header(CHANNEL_CALL | CHANNEL_MORE, CHANNEL_MAX_BATCH_BYTES), () => {}),
    ).toThrow(/batch past/);
    const tooMany = Buffer.concat(
      Array.from({ length: CHANNEL_MAX_BATCH_FRAMES + 1 }, () =>
        header(CHANNEL_CALL | CHANNEL_MORE, 0),
      ),
    );
    expect(() => reader().push(tooMany, () => {})).toThrow(/batch past 128 frames/);
    expect(() => reader().push(header(0x40 | CHANNEL_CALL, 0), () => {})).toThrow(/kind/);
  });

  it('without a key, tags are zeros and batches are read alike', () => {
    const bytes = new FrameWriter(undefined, FROM_CALLER).frames(CHANNEL_CALL, [
      out(1, '1'),
      out(2, '2'),
    ]);
    const got: number[] = [];
    new FrameReader(undefined, FROM_CALLER, CHANNEL_CALL, 1024).push(bytes, (id) => got.push(id));
    expect(got).toEqual([1, 2]);
  });
});
