/**
 * Inside a plugin's live thread: the buffers a streamed response's bytes travel to the host in. Each
 * byte chunk the plugin yields is copied once into a buffer of the thread's own, which is then
 * transferred (moved, not cloned): the host allocates nothing for it, and the plugin keeps the buffer
 * it yielded, free to fill it again. Once the host has written a chunk to the client's socket it gives
 * the buffer back with a later credit (`more`), and the next chunk is copied into it: a download
 * allocates nothing in steady state, on either side (docs/decisions/0305).
 * @module
 */

/** Smallest buffer made for a chunk: tiny chunks share one size, so their buffers are reused. */
export const MIN_CHUNK_BUFFER_BYTES = 1024;
/**
 * Bytes of given-back buffers a thread keeps for its streams, all together (beyond it they are left to
 * the thread's collector). A 64 KiB stream needs about one at a time: the host returns each buffer
 * with the credit that lets the next chunk go.
 */
export const SPARE_BUFFER_BYTES = 1024 * 1024;

/** The size of buffer made for a chunk of `bytes`: a power of two, at least the minimum. */
export function bufferSizeFor(bytes: number): number {
  if (bytes <= MIN_CHUNK_BUFFER_BYTES) return MIN_CHUNK_BUFFER_BYTES;
  // Past the spare budget a buffer is never kept: no rounding up for it.
  if (bytes > SPARE_BUFFER_BYTES) return bytes;
  return 2 ** Math.ceil(Math.log2(bytes));
}

const isPlainArrayBuffer = (b: unknown): b is ArrayBuffer =>
  Object.prototype.toString.call(b) === '[object ArrayBuffer]';

/**
 * On the host: a chunk as the host may keep it. The thread's own copy runs in the plugin's realm, so a
 * plugin that patches its globals can post a view on shared memory it keeps writing, or a small view
 * on a huge buffer (`max_chunk_bytes` measures the view): such a chunk is copied to exactly its size.
 */
export function hostOwnedChunk(chunk: Uint8Array): Uint8Array {
  const { buffer, byteLength } = chunk;
  if (isPlainArrayBuffer(buffer) && buffer.byteLength <= bufferSizeFor(byteLength)) return chunk;
  return new Uint8Array(chunk);
}

/** One thread's spare buffers, shared by its streams. */
export class ChunkBuffers {
  readonly #spare: ArrayBuffer[] = [];
  #spareBytes = 0;

  /** `view`'s bytes in a buffer of the thread's that nothing else holds: a spare that fits, or a new one. */
  copy(view: ArrayBufferView): Uint8Array {
    const { byteLength } = view;
    if (byteLength === 0) return new Uint8Array(0);
    const size = bufferSizeFor(byteLength);
    const spare = this.#take(size);
    // A spare buffer's tail still holds an earlier chunk, maybe another request's: zeroed, as a new
    // buffer is, since whoever gets the chunk can reach its whole buffer.
    if (spare) new Uint8Array(spare, byteLength).fill(0);
    const out = new Uint8Array(spare ?? new ArrayBuffer(size), 0, byteLength);
    out.set(new Uint8Array(view.buffer, view.byteOffset, byteLength));
    return out;
  }

  /** Buffers the host gave back; kept while the spare budget allows, of sizes chunks are made in. */
  give(buffers: readonly unknown[]): void {
    for (const buffer of buffers) {
      if (!isPlainArrayBuffer(buffer)) continue;
      const size = buffer.byteLength;
      if (size === 0 || bufferSizeFor(size) !== size) continue;
      if (this.#spareBytes + size > SPARE_BUFFER_BYTES) continue;
      this.#spare.push(buffer);
      this.#spareBytes += size;
    }
  }

  #take(size: number): ArrayBuffer | undefined {
    for (let i = this.#spare.length - 1; i >= 0; i--) {
      const buffer = this.#spare[i]!;
      if (buffer.byteLength !== size) continue;
      this.#spare.splice(i, 1);
      this.#spareBytes -= size;
      return buffer;
    }
    return undefined;
  }
}
