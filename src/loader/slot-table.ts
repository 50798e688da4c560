/**
 * The slot table of one plugin instance: a fixed set of request slots, shared with its threads by the
 * worker runtime.
 * A thread writes its `threadId` into a request's slot while it works on it, so that after a
 * timeout the host knows which thread to terminate without paying for an abort signal per request.
 * @module
 */

export class SlotTable<T> {
  /** Shared with the threads (`HarnessData.slots`). */
  readonly shared: Int32Array;
  #free: Int32Array;
  #freeCount: number;
  #owners: (T | undefined)[];

  constructor(size: number) {
    this.shared = new Int32Array(new SharedArrayBuffer(size * Int32Array.BYTES_PER_ELEMENT));
    this.#free = new Int32Array(size);
    for (let i = 0; i < size; i++) this.#free[i] = size - 1 - i;
    this.#freeCount = size;
    this.#owners = new Array<T | undefined>(size);
  }

  /** Slots in use. */
  get used(): number {
    return this.#owners.length - this.#freeCount;
  }

  /** A free slot for `owner`, or -1 when all are taken. */
  acquire(owner: T): number {
    if (this.#freeCount === 0) return -1;
    const slot = this.#free[--this.#freeCount]!;
    this.#owners[slot] = owner;
    Atomics.store(this.shared, slot, 0);
    return slot;
  }

  release(slot: number): void {
    this.#owners[slot] = undefined;
    this.#free[this.#freeCount++] = slot;
  }

  ownerOf(slot: number): T | undefined {
    return this.#owners[slot];
  }

  /** The thread working on the slot now, or 0. */
  threadOf(slot: number): number {
    return Atomics.load(this.shared, slot);
  }
}
