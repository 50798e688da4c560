import { describe, expect, it } from 'vitest';
import {
  bufferSizeFor,
  ChunkBuffers,
  MIN_CHUNK_BUFFER_BYTES,
  SPARE_BUFFER_BYTES,
} from './live-chunk-buffers.js';

describe('ChunkBuffers', () => {
  it('copies a chunk into a buffer of its own, leaving the plugin its view', () => {
    const buffers = new ChunkBuffers();
    const yielded = Buffer.from('hello'); // a view on the shared pool
    const out = buffers.copy(yielded);
    expect(Buffer.from(out).toString()).toBe('hello');
    expect(out.buffer).not.toBe(yielded.buffer);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(MIN_CHUNK_BUFFER_BYTES);
    yielded.write('HELLO');
    expect(Buffer.from(out).toString()).toBe('hello');
  });

  it('fills a given-back buffer of the right size again, once', () => {
    const buffers = new ChunkBuffers();
    const first = buffers.copy(new Uint8Array(64 * 1024).fill(1));
    buffers.give([first.buffer]);
    const second = buffers.copy(new Uint8Array(60_000).fill(2));
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteLength).toBe(60_000);
    expect(second.every((b) => b === 2)).toBe(true);
    // Nothing of the earlier chunk is left past this one's end.
    expect(new Uint8Array(second.buffer, 60_000).every((b) => b === 0)).toBe(true);
    // Taken: the next chunk gets a new buffer.
    expect(buffers.copy(new Uint8Array(64 * 1024)).buffer).not.toBe(first.buffer);
  });

  it('keeps only plain buffers of the sizes it makes, within its budget', () => {
    const buffers = new ChunkBuffers();
    const odd = new ArrayBuffer(3000);
    const shared = new SharedArrayBuffer(4096);
    buffers.give([odd, shared, new ArrayBuffer(0), 'x', null]);
    expect(buffers.copy(new Uint8Array(3000)).buffer).not.toBe(odd);
    expect(buffers.copy(new Uint8Array(4096)).buffer).not.toBe(shared);
    // Past the budget, a buffer is left to the collector.
    const size = 256 * 1024;
    const given = Array.from(
      { length: SPARE_BUFFER_BYTES / size + 1 },
      () => new ArrayBuffer(size),
    );
    buffers.give(given);
    const reused = new Set<ArrayBufferLike>();
    for (let i = 0; i < given.length; i++) reused.add(buffers.copy(new Uint8Array(size)).buffer);
    expect(given.filter((b) => reused.has(b))).toHaveLength(SPARE_BUFFER_BYTES / size);
  });

  it('sizes buffers in powers of two, exact past the spare budget, none for an empty chunk', () => {
    expect(bufferSizeFor(1)).toBe(MIN_CHUNK_BUFFER_BYTES);
    expect(bufferSizeFor(65_536)).toBe(65_536);
    expect(bufferSizeFor(65_537)).toBe(131_072);
    expect(bufferSizeFor(SPARE_BUFFER_BYTES + 1)).toBe(SPARE_BUFFER_BYTES + 1);
    expect(new ChunkBuffers().copy(new Uint8Array(0)).byteLength).toBe(0);
  });
});
