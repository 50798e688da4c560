// A single-producer single-consumer ring of length-prefixed byte messages on a SharedArrayBuffer, for
// bench/ring.micro.ts only (not a transport of the gateway). Header cells: [0] write offset, [1] read
// offset, [2] a wake counter the consumer waits on with Atomics.waitAsync.
export const HEAD = 16;

/** `Atomics.waitAsync` (Node 16+; not in the TypeScript lib this project targets). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      cells: Int32Array,
      index: number,
      value: number,
    ): { async: true; value: Promise<string> } | { async: false; value: string };
  }
).waitAsync;
export class Ring {
  readonly cells: Int32Array;
  readonly bytes: Uint8Array;
  readonly size: number;
  readonly view: DataView;
  readonly enc = new TextEncoder();
  readonly dec = new TextDecoder();
  constructor(sab: SharedArrayBuffer) {
    this.cells = new Int32Array(sab, 0, 4);
    this.bytes = new Uint8Array(sab, HEAD);
    this.size = this.bytes.length;
    this.view = new DataView(sab, HEAD);
  }
  /** Writes one message; false when the ring has no room. */
  push(text: string): boolean {
    const bytes = this.enc.encode(text);
    const need = 4 + bytes.length;
    const w = Atomics.load(this.cells, 0);
    const r = Atomics.load(this.cells, 1);
    if (this.size - (w - r) < need + 4) return false;
    const at = w % this.size;
    if (at + need > this.size) {
      // No wrap inside a message: a zero length says "start again at 0".
      if (this.size - (w - r) < need + 4 + (this.size - at)) return false;
      if (this.size - at >= 4) this.view.setUint32(at, 0);
      Atomics.store(this.cells, 0, w + (this.size - at));
      return this.push(text);
    }
    this.view.setUint32(at, bytes.length);
    this.bytes.set(bytes, at + 4);
    Atomics.store(this.cells, 0, w + need);
    Atomics.add(this.cells, 2, 1);
    Atomics.notify(this.cells, 2);
    return true;
  }
  /** Every message waiting, read in order. */
  drain(each: (text: string) => void): void {
    let r = Atomics.load(this.cells, 1);
    const w = Atomics.load(this.cells, 0);
    while (r < w) {
      const at = r % this.size;
      const len = this.size - at >= 4 ? this.view.getUint32(at) : 0;
      if (len === 0) {
        r += this.size - at;
        continue;
      }
      each(this.dec.decode(this.bytes.subarray(at + 4, at + 4 + len)));
      r += 4 + len;
    }
    Atomics.store(this.cells, 1, r);
  }
  /** Calls drain(each) whenever messages arrive, never blocking the event loop. */
  listen(each: (text: string) => void): void {
    const loop = () => {
      const seen = Atomics.load(this.cells, 2);
      this.drain(each);
      const w = waitAsync(this.cells, 2, seen);
      if (w.async) void w.value.then(loop);
      else queueMicrotask(loop);
    };
    loop();
  }
  /**
   * Calls drain(each) whenever messages arrive, the thread blocked in `Atomics.wait` in between: it
   * never returns to its event loop (ended by `worker.terminate()`).
   */
  serveBlocking(each: (text: string) => void): never {
    for (;;) {
      const seen = Atomics.load(this.cells, 2);
      this.drain(each);
      Atomics.wait(this.cells, 2, seen);
    }
  }
  /** Waits, blocking this thread, until messages arrive; then drains them. */
  drainBlocking(each: (text: string) => void): void {
    const seen = Atomics.load(this.cells, 2);
    if (Atomics.load(this.cells, 0) === Atomics.load(this.cells, 1))
      Atomics.wait(this.cells, 2, seen);
    this.drain(each);
  }
}
